#!/usr/bin/env bash
# The deployment's own certificates (ECDSA P-256): a CA, and node certificates whose subject OU
# names the daemon's role (server, dialer, agentd), which carillon-server checks.
#   deploy/pki.sh ca DIR                       -> DIR/ca.pem DIR/ca.key (kept if present)
#   deploy/pki.sh node DIR ROLE NAME [SAN]     -> DIR/NAME.pem DIR/NAME.key
set -euo pipefail

usage() {
    cat <<USAGE
usage: deploy/pki.sh ca DIR
       deploy/pki.sh node DIR ROLE NAME [SAN]
  ROLE is server, dialer or agentd; SAN defaults to "DNS:localhost,IP:127.0.0.1"
USAGE
}
die() { echo "pki.sh: $*" >&2; exit 2; }

cmd=${1:-help}
case "$cmd" in
ca)
    [ $# -eq 2 ] || { usage >&2; exit 2; }
    dir=$2
    mkdir -p "$dir"
    if [ -f "$dir/ca.pem" ] && [ -f "$dir/ca.key" ]; then
        echo "CA kept: $dir/ca.pem"
        exit 0
    fi
    # Half a CA is someone's real CA missing a file: never replace it silently.
    [ -e "$dir/ca.pem" ] && die "$dir/ca.pem exists without $dir/ca.key: refusing to replace it"
    [ -e "$dir/ca.key" ] && die "$dir/ca.key exists without $dir/ca.pem: refusing to replace it"
    umask 077
    openssl ecparam -name prime256v1 -genkey -noout -out "$dir/ca.key"
    openssl req -x509 -new -key "$dir/ca.key" -sha256 -days 3650 \
        -subj "/O=Carillon/CN=Carillon CA $(openssl rand -hex 4)" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -out "$dir/ca.pem"
    chmod 0644 "$dir/ca.pem"
    echo "CA created: $dir/ca.pem"
    ;;
node)
    [ $# -ge 4 ] && [ $# -le 5 ] || { usage >&2; exit 2; }
    dir=$2 role=$3 name=$4 san=${5:-DNS:localhost,IP:127.0.0.1}
    case "$role" in server|dialer|agentd) ;; *) die "unknown role '$role' (server, dialer or agentd)" ;; esac
    [[ "$name" =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$ ]] || die "bad node name '$name' (letters, digits, . _ -)"
    [[ "$san" =~ ^(DNS|IP):[^,]+(,(DNS|IP):[^,]+)*$ ]] ||
        die "bad SAN '$san' (expected a comma-separated list like DNS:host.example,IP:10.0.0.5)"
    [ -f "$dir/ca.pem" ] && [ -f "$dir/ca.key" ] || die "no CA in $dir: run 'deploy/pki.sh ca $dir' first"
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    umask 077
    openssl ecparam -name prime256v1 -genkey -noout -out "$tmp/key.pem"
    openssl req -new -key "$tmp/key.pem" -subj "/O=Carillon/OU=$role/CN=$name" -out "$tmp/req.csr"
    cat > "$tmp/ext.cnf" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=$san
EXT
    # openssl x509 chatters on success ("Certificate request self-signature ok"): keep its
    # stderr for the failure message only.
    if ! openssl x509 -req -in "$tmp/req.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
        -CAcreateserial -days 825 -sha256 -extfile "$tmp/ext.cnf" -out "$tmp/cert.pem" \
        2>"$tmp/err"; then
        echo "pki.sh: cannot sign $name with the CA in $dir:" >&2
        cat "$tmp/err" >&2
        exit 1
    fi
    mv "$tmp/key.pem" "$dir/$name.key"
    mv "$tmp/cert.pem" "$dir/$name.pem"
    chmod 0600 "$dir/$name.key"
    chmod 0644 "$dir/$name.pem"
    echo "certificate created: $dir/$name.pem (role $role)"
    ;;
help|-h|--help) usage ;;
*) echo "pki.sh: unknown command '$cmd'" >&2; usage >&2; exit 2 ;;
esac
