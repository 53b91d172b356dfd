#!/usr/bin/env bash
# Installs vigil-agent as a systemd service from the single-file bundle that `npm run build` makes.
#
#   npm run build
#   sudo deploy/install-agent.sh [--server HOST:PORT] [--ca CA.pem | --insecure] [--self-update URL]
#   sudo -u vigil-agent node /opt/vigil-agent/vigil-agent.js enroll \
#       --config /etc/vigil/agent.toml --server HOST:PORT --token TOKEN
#   sudo systemctl enable --now vigil-agent
#
# Environment: BUNDLE (default packages/agent/dist/vigil-agent.js next to this script's repository),
# PREFIX (/opt/vigil-agent), CONFIG_DIR (/etc/vigil), UNIT_DIR (/etc/systemd/system),
# STATE_DIR (/var/lib/vigil-agent), and DESTDIR: install under that root instead of / and skip what
# needs root (the user, ownership, systemctl), for packaging and tests.
# --ca copies the CA that signed the server's certificate to CONFIG_DIR/tls/ca.pem and turns TLS on;
# a server that is not on loopback needs it (or --insecure, for plaintext on a private network).
# --self-update URL turns on [update] with the server's HTTP address URL (docs/configuration.md), gives
# the service user the bundle's directory, and lets the unit write it (a drop-in, ReadWritePaths=).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
BUNDLE="${BUNDLE:-$repo/packages/agent/dist/vigil-agent.js}"
PREFIX="${PREFIX:-/opt/vigil-agent}"
CONFIG_DIR="${CONFIG_DIR:-/etc/vigil}"
UNIT_DIR="${UNIT_DIR:-/etc/systemd/system}"
STATE_DIR="${STATE_DIR:-/var/lib/vigil-agent}"
DESTDIR="${DESTDIR:-}"
SERVICE_USER="vigil-agent"
server="127.0.0.1:9801"
ca=""
insecure=false
update_url=""

die() {
  printf 'install-agent.sh: %s\n' "$1" >&2
  exit "${2:-1}"
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    --server)
      [[ $# -ge 2 ]] || die "--server needs HOST:PORT" 2
      server="$2"
      shift 2
      ;;
    --ca)
      [[ $# -ge 2 ]] || die "--ca needs a PEM file" 2
      ca="$2"
      shift 2
      ;;
    --insecure)
      insecure=true
      shift
      ;;
    --self-update)
      [[ $# -ge 2 ]] || die "--self-update needs the server's HTTP URL, e.g. https://vigil.example.net:9800" 2
      update_url="$2"
      shift 2
      ;;
    -h | --help)
      sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *) die "unknown argument: $1 (see --help)" 2 ;;
  esac
done

host_port_re='^[][A-Za-z0-9.:_-]+$'
[[ "$server" =~ $host_port_re ]] || die "--server: \"$server\" is not HOST:PORT" 2
[[ -z "$ca" || -f "$ca" ]] || die "--ca: no file $ca" 2
[[ -z "$ca" || "$insecure" == false ]] || die "--ca and --insecure exclude each other" 2
[[ -z "$update_url" || "$update_url" =~ ^https?://[^[:space:]\"]+$ ]] ||
  die "--self-update: \"$update_url\" is not an http:// or https:// URL" 2
[[ -f "$BUNDLE" ]] || die "no bundle at $BUNDLE: run \`npm run build\` first"
if [[ -z "$DESTDIR" ]]; then
  [[ "$(id -u)" -eq 0 ]] || die "run as root (or set DESTDIR to stage the files)"
  command -v node >/dev/null || die "node (version 20 or later) is not on PATH"
  node_major="$(node -p 'process.versions.node.split(".")[0]')"
  [[ "$node_major" -ge 20 ]] || die "node $node_major is too old: vigil-agent needs 20 or later"
fi

install -d -m 0755 "$DESTDIR$PREFIX" "$DESTDIR$CONFIG_DIR" "$DESTDIR$UNIT_DIR"
install -m 0644 "$BUNDLE" "$DESTDIR$PREFIX/vigil-agent.js"
install -m 0644 "$repo/config/agent.example.toml" "$DESTDIR$PREFIX/agent.example.toml"
install -m 0644 "$here/systemd/vigil-agent.service" "$DESTDIR$UNIT_DIR/vigil-agent.service"

config="$DESTDIR$CONFIG_DIR/agent.toml"
if [[ -e "$config" ]]; then
  printf 'keeping the existing %s\n' "$config"
else
  cat >"$config" <<TOML
# vigil-agent configuration. Every key, with its default: $PREFIX/agent.example.toml
# Check it with: node $PREFIX/vigil-agent.js check-config $CONFIG_DIR/agent.toml
# agent_id defaults to the hostname.
server = "$server"
api_key_file = "$STATE_DIR/api.key"
TOML
  if [[ -n "$ca" ]]; then
    install -d -m 0755 "$DESTDIR$CONFIG_DIR/tls"
    install -m 0644 "$ca" "$DESTDIR$CONFIG_DIR/tls/ca.pem"
    # Relative to this file (docs/configuration.md, tls.ca).
    printf '\n[tls]\nca = "tls/ca.pem"\n' >>"$config"
  elif [[ "$insecure" == true ]]; then
    printf '\n[tls]\n# Plaintext to a non-loopback server, chosen with --insecure.\ninsecure = true\n' >>"$config"
  fi
  if [[ -n "$update_url" ]]; then
    printf '\n[update]\n# Daily check for a newer bundle on the server (docs/configuration.md, [update]).\nenabled = true\nurl = "%s"\n' \
      "$update_url" >>"$config"
  fi
  chmod 0640 "$config"
fi

if [[ -n "$update_url" ]]; then
  # The unit's file system is read-only but for its state directory: self-update must write the bundle's.
  install -d -m 0755 "$DESTDIR$UNIT_DIR/vigil-agent.service.d"
  printf '# Written by install-agent.sh --self-update: the agent replaces %s/vigil-agent.js itself.\n[Service]\nReadWritePaths=%s\n' \
    "$PREFIX" "$PREFIX" >"$DESTDIR$UNIT_DIR/vigil-agent.service.d/self-update.conf"
fi

if [[ -z "$DESTDIR" ]]; then
  if ! getent passwd "$SERVICE_USER" >/dev/null; then
    useradd --system --user-group --no-create-home --home-dir "$STATE_DIR" \
      --shell /usr/sbin/nologin "$SERVICE_USER"
  fi
  chgrp "$SERVICE_USER" "$config"
  # systemd creates it too (StateDirectory=); made now so `enroll` can write the key before the first start.
  install -d -m 0700 -o "$SERVICE_USER" -g "$SERVICE_USER" "$STATE_DIR"
  # Self-update writes a temp file next to the bundle and renames it over the bundle.
  [[ -z "$update_url" ]] || chown "$SERVICE_USER:$SERVICE_USER" "$PREFIX" "$PREFIX/vigil-agent.js"
  systemctl daemon-reload
fi

cat <<DONE
installed $PREFIX/vigil-agent.js and $UNIT_DIR/vigil-agent.service
next:
  sudo -u $SERVICE_USER node $PREFIX/vigil-agent.js enroll --config $CONFIG_DIR/agent.toml --server $server --token TOKEN
  sudo systemctl enable --now vigil-agent
DONE
