"""Publishing to and fetching from the Hugging Face Hub, so a user with network access can skip building.

`push` sends a built synthetic suite (models, tokenizer, manifest, pool) to a model repo and the published dev
evidence bundle (`leaderboard/evidence/<suite>/`) to a dataset repo, each with a sha256 index of every file;
`fetch` downloads them, verifies every byte against that index and the manifest, and installs them where the
pipeline reads them. Nothing here runs unless asked: distillbench keeps the Hub offline by default (see `online`).
"""
