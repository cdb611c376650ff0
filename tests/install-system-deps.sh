#!/usr/bin/env bash
# System packages the tests need, from Debian's archive: Chromium for the site's browser tests (driven through
# playwright with this binary; never `playwright install`, which downloads), and bubblewrap, which contains every
# submitted detector (the submission tests run the real sandbox and fail closed without it).
set -euo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update && $SUDO apt-get install -y "${missing[@]}"
fi
