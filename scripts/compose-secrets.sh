#!/usr/bin/env bash
# Make ./secrets/ for compose.yaml: one file per secret, never overwritten once there.
#   database_password       random, read by PostgreSQL and by the bots (DATABASE_PASSWORD_FILE)
#   slack_bot_token         from $SLACK_BOT_TOKEN, else left for you to fill
#   slack_signing_secret    from $SLACK_SIGNING_SECRET, else left for you to fill
#   okta_api_token          from $OKTA_API_TOKEN, else left for you to fill
# Compose bind-mounts these files, so the containers' users (the bot's uid 10001, postgres) read
# them with the host's permissions: the files are 0644 inside a folder only you can open.
set -euo pipefail
cd "$(dirname "$0")/.."
umask 077
mkdir -p secrets
chmod 700 secrets

write() {  # name value
  local path="secrets/$1"
  if [ -f "$path" ] && [ -n "$(tr -d '[:space:]' < "$path")" ]; then
    echo "kept     $path"
    return
  fi
  printf '%s' "$2" > "$path"
  chmod 644 "$path"
  if [ -n "$2" ]; then echo "wrote    $path"; else echo "EMPTY    $path: put the value in it"; fi
}

write database_password "$(head -c 32 /dev/urandom | base64 | tr -d '/+=\n' | head -c 32)"
write slack_bot_token "${SLACK_BOT_TOKEN:-}"
write slack_signing_secret "${SLACK_SIGNING_SECRET:-}"
write okta_api_token "${OKTA_API_TOKEN:-}"
