"""The account wing: which key a call uses (credentials), the experimental device-flow login and its stored token
(login), the account's own models (discovery), its credits (credits) and the opt-in proxy start-up hook that
registers the models (startup); the three that ask CodeBuddy something (login, discovery, credits) send their
requests and classify failures through one helper (http). Used by the provider (the key) and the command line; it
never imports the provider."""
