"""A local setup to try and test the package: start and stop the fake CodeBuddy and the LiteLLM proxy
(:mod:`.launch`), and the one-command demo (:mod:`.demo`, run by ``./demo.sh``)."""
