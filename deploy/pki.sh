#!/usr/bin/env bash
# The deployment's own certificates (ECDSA P-256): a CA, node certificates whose subject OU
# names the daemon's role (server, dialer, agentd), which every peer checks, and the CA's CRL.
#   deploy/pki.sh ca DIR                       -> DIR/ca.pem DIR/ca.key (kept if present)
#   deploy/pki.sh node DIR ROLE NAME [SAN]     -> DIR/NAME.pem DIR/NAME.key
#   deploy/pki.sh listener DIR NAME SAN        -> DIR/NAME.pem DIR/NAME.key (agentd's listener)
#   deploy/pki.sh revoke DIR NAME|CERT.pem     -> DIR/crl.pem with that certificate in it
#   deploy/pki.sh crl DIR                      -> DIR/crl.pem afresh (its next update moves on)
# Extended key usage follows the role: the server's certificate is serverAuth only, a dialer's
# or an agentd's (towards the server) clientAuth only, so no daemon's key can pose as the
# server. A certificate that is replaced is kept in DIR/retired/ so that it can be revoked.
set -euo pipefail

usage() {
    cat <<USAGE
usage: deploy/pki.sh ca DIR
       deploy/pki.sh node DIR ROLE NAME [SAN]
       deploy/pki.sh listener DIR NAME SAN
       deploy/pki.sh revoke DIR NAME|CERT.pem
       deploy/pki.sh crl DIR
  node: ROLE is server (extended key usage serverAuth; SAN defaults to "DNS:NAME"), dialer or
        agentd (clientAuth; no SAN unless given). SAN is a list like
        "DNS:carillon.example,IP:10.0.0.5" (a local test stack: "DNS:localhost,IP:127.0.0.1").
  listener: the server certificate of an agentd's listener for agent desktops (OU agentd,
        serverAuth), beside that agentd's client certificate from 'node DIR agentd NAME'.
  revoke: adds the certificate (DIR/NAME.pem, or a file such as DIR/retired/NAME-SERIAL.pem)
        to the CA's list of revoked certificates and writes DIR/crl.pem.
  crl:  writes DIR/crl.pem again; it is valid CARILLON_CRL_DAYS days (365 by default), make a
        fresh one before then ([tls] crl refuses an expired one).
USAGE
}
die() { echo "pki.sh: $*" >&2; exit 2; }

need_ca() {
    [ -f "$1/ca.pem" ] && [ -f "$1/ca.key" ] || die "no CA in $1: run 'deploy/pki.sh ca $1' first"
}

check_san() {
    [[ "$1" =~ ^(DNS|IP):[^,]+(,(DNS|IP):[^,]+)*$ ]] ||
        die "bad SAN '$1' (expected a comma-separated list like DNS:host.example,IP:10.0.0.5)"
}

# issue DIR ROLE NAME EKU SAN: a key and a certificate signed by the CA in DIR.
issue() {
    local dir=$1 role=$2 name=$3 eku=$4 san=$5
    [[ "$name" =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$ ]] || die "bad node name '$name' (letters, digits, . _ -)"
    [ "$name" != ca ] && [ "$name" != crl ] || die "node name '$name' is taken by the CA's files"
    [ -z "$san" ] || check_san "$san"
    need_ca "$dir"
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    umask 077
    openssl ecparam -name prime256v1 -genkey -noout -out "$tmp/key.pem"
    openssl req -new -key "$tmp/key.pem" -subj "/O=Carillon/OU=$role/CN=$name" -out "$tmp/req.csr"
    {
        echo "basicConstraints=critical,CA:FALSE"
        echo "keyUsage=critical,digitalSignature"
        echo "extendedKeyUsage=$eku"
        [ -z "$san" ] || echo "subjectAltName=$san"
    } >"$tmp/ext.cnf"
    # openssl x509 chatters on success ("Certificate request self-signature ok"): keep its
    # stderr for the failure message only.
    if ! openssl x509 -req -in "$tmp/req.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
        -CAcreateserial -days 825 -sha256 -extfile "$tmp/ext.cnf" -out "$tmp/cert.pem" \
        2>"$tmp/err"; then
        echo "pki.sh: cannot sign $name with the CA in $dir:" >&2
        cat "$tmp/err" >&2
        exit 1
    fi
    # The certificate replaced stays valid until it expires: keep it where 'revoke' finds it.
    if [ -f "$dir/$name.pem" ]; then
        local serial
        serial=$(openssl x509 -in "$dir/$name.pem" -noout -serial | sed 's/^serial=//')
        mkdir -p "$dir/retired"
        mv "$dir/$name.pem" "$dir/retired/$name-$serial.pem"
        chmod 0644 "$dir/retired/$name-$serial.pem"
        echo "previous certificate kept: $dir/retired/$name-$serial.pem (revoke it once replaced)"
    fi
    mv "$tmp/key.pem" "$dir/$name.key"
    mv "$tmp/cert.pem" "$dir/$name.pem"
    chmod 0600 "$dir/$name.key"
    chmod 0644 "$dir/$name.pem"
    echo "certificate created: $dir/$name.pem (role $role, $eku)"
}

# ca_db DIR: openssl ca's database (DIR/index.txt) and a config naming it, in $tmp/ca.cnf.
ca_db() {
    local dir=$1
    need_ca "$dir"
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    [ -f "$dir/index.txt" ] || : >"$dir/index.txt"
    [ -f "$dir/index.txt.attr" ] || echo "unique_subject = no" >"$dir/index.txt.attr"
    [ -f "$dir/crlnumber" ] || echo 1000 >"$dir/crlnumber"
    local days=${CARILLON_CRL_DAYS:-365}
    [[ "$days" =~ ^[1-9][0-9]{0,4}$ ]] || die "CARILLON_CRL_DAYS: a number of days, got '$days'"
    cat >"$tmp/ca.cnf" <<CNF
[ca]
default_ca = carillon
[carillon]
database = $dir/index.txt
crlnumber = $dir/crlnumber
certificate = $dir/ca.pem
private_key = $dir/ca.key
default_md = sha256
default_crl_days = $days
CNF
}

write_crl() {
    local dir=$1
    if ! openssl ca -config "$tmp/ca.cnf" -gencrl -out "$tmp/crl.pem" 2>"$tmp/err"; then
        echo "pki.sh: cannot make the CRL of $dir:" >&2
        cat "$tmp/err" >&2
        exit 1
    fi
    chmod 0644 "$tmp/crl.pem"
    mv "$tmp/crl.pem" "$dir/crl.pem"
    echo "CRL written: $dir/crl.pem ($(grep -c '^R' "$dir/index.txt" || true) revoked, next update $(openssl crl -in "$dir/crl.pem" -noout -nextupdate | sed 's/^nextUpdate=//'))"
}

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
    dir=$2 role=$3 name=$4
    case "$role" in
    server) issue "$dir" server "$name" serverAuth "${5:-DNS:$name}" ;;
    dialer | agentd) issue "$dir" "$role" "$name" clientAuth "${5:-}" ;;
    *) die "unknown role '$role' (server, dialer or agentd)" ;;
    esac
    ;;
listener)
    [ $# -eq 4 ] || { usage >&2; exit 2; }
    issue "$2" agentd "$3" serverAuth "$4"
    ;;
revoke)
    [ $# -eq 3 ] || { usage >&2; exit 2; }
    dir=$2 cert=$3
    case "$cert" in */* | *.pem) ;; *) cert=$dir/$cert.pem ;; esac
    [ -f "$cert" ] || die "no certificate $cert"
    ca_db "$dir"
    # only certificates of this CA: another CA's serial would revoke an unrelated one here
    openssl verify -CAfile "$dir/ca.pem" "$cert" >/dev/null 2>&1 ||
        die "$cert was not issued by the CA in $dir"
    serial=$(openssl x509 -in "$cert" -noout -serial | sed 's/^serial=//')
    if grep -q "^R.*[[:space:]]${serial}[[:space:]]" "$dir/index.txt"; then
        echo "already revoked: $cert (serial $serial)"
    elif ! openssl ca -config "$tmp/ca.cnf" -revoke "$cert" 2>"$tmp/err"; then
        echo "pki.sh: cannot revoke $cert:" >&2
        cat "$tmp/err" >&2
        exit 1
    else
        echo "revoked: $cert (serial $serial, $(openssl x509 -in "$cert" -noout -subject))"
    fi
    write_crl "$dir"
    ;;
crl)
    [ $# -eq 2 ] || { usage >&2; exit 2; }
    ca_db "$2"
    write_crl "$2"
    ;;
help|-h|--help) usage ;;
*) echo "pki.sh: unknown command '$cmd'" >&2; usage >&2; exit 2 ;;
esac
