"""The account wing: which key a call uses, the (experimental) device-flow login and its stored token, and the
account's own model list. Used by the provider (the key) and the command line; it never imports the provider."""
