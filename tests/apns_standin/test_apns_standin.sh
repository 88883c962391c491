#!/bin/sh
# The APNS stand-in against curl (HTTP/2 over TLS, trusting the stand-in's
# CA) with provider tokens made by openssl: ES256 as the NTF router signs
# them (DER signature, unpadded base64url). Checks the answers to a valid
# push, to JWT faults (wrong key id, wrong team, other key, stale iat, none),
# to header faults (topic, push type, background priority, expiration), to
# a bad token path, an empty body and one over 5120 bytes, the per-token failures file (400
# BadDeviceToken, 410 Unregistered with a timestamp), and the recorded JSON
# lines.
set -eu
STANDIN=$1
T=$(mktemp -d /tmp/sx_apns_standin.XXXXXX)
PID=
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/key.p8" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/other.p8" 2>/dev/null
openssl pkey -in "$T/key.p8" -pubout -out "$T/key.pub" 2>/dev/null
mkdir "$T/s"
"$STANDIN" --dir "$T/s" --key-file "$T/key.pub" --kid KEY1234567 2>"$T/stderr" &
PID=$!
i=0
while [ ! -s "$T/s/port" ]; do
    kill -0 "$PID" 2>/dev/null || fail "the stand-in exited: $(cat "$T/stderr")"
    i=$((i + 1)); [ $i -lt 600 ] || fail "no port file"; sleep 0.1
done
PORT=$(cat "$T/s/port")

b64u() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
# jwt KEYFILE KID TEAM IAT
jwt() {
    h=$(printf '{"alg":"ES256","kid":"%s"}' "$2" | b64u)
    c=$(printf '{"iss":"%s","iat":%s}' "$3" "$4" | b64u)
    s=$(printf '%s.%s' "$h" "$c" | openssl dgst -sha256 -sign "$1" | b64u)
    printf '%s.%s.%s' "$h" "$c" "$s"
}
NOW=$(date +%s)
GOOD=$(jwt "$T/key.p8" KEY1234567 5NN7GUYB6T "$NOW")
TOKEN=0123456789abcdef0123456789abcdef
BODY='{"aps":{"content-available":1},"notificationData":{"checkMessages":true}}'
# push EXPECTED_STATUS EXPECTED_REASON [curl args...]
push() {
    want=$1 reason=$2; shift 2
    got=$(curl -s --http2 --cacert "$T/s/ca.crt" -o "$T/out" -w '%{http_code} %{http_version}' "$@") || fail "curl $*"
    [ "$got" = "$want 2" ] || fail "status '$got', expected $want over HTTP/2 ($*)"
    if [ -n "$reason" ]; then
        grep -q "\"reason\":\"$reason\"" "$T/out" || fail "reason $(cat "$T/out"), expected $reason"
    fi
}
URL="https://localhost:$PORT/3/device/$TOKEN"

push 200 "" -X POST "$URL" -H "authorization: bearer $GOOD" -H "apns-topic: chat.simplex.app" \
    -H "apns-push-type: background" -H "apns-priority: 5" --data-raw "$BODY"
push 200 "" -X POST "$URL" -H "authorization: bearer $GOOD" -H "apns-topic: chat.simplex.app" \
    -H "apns-push-type: alert" -H "apns-expiration: 0" --data-raw "$BODY"
# JWT faults
for bad in "$(jwt "$T/key.p8" OTHERKEYID 5NN7GUYB6T "$NOW")" "$(jwt "$T/key.p8" KEY1234567 OTHERTEAM1 "$NOW")" \
           "$(jwt "$T/other.p8" KEY1234567 5NN7GUYB6T "$NOW")" "not.a.jwt"; do
    push 403 InvalidProviderToken -X POST "$URL" -H "authorization: bearer $bad" -H "apns-topic: chat.simplex.app" \
        -H "apns-push-type: alert" --data-raw "$BODY"
done
push 403 ExpiredProviderToken -X POST "$URL" -H "authorization: bearer $(jwt "$T/key.p8" KEY1234567 5NN7GUYB6T $((NOW - 4000)))" \
    -H "apns-topic: chat.simplex.app" -H "apns-push-type: alert" --data-raw "$BODY"
push 403 MissingProviderToken -X POST "$URL" -H "apns-topic: chat.simplex.app" -H "apns-push-type: alert" --data-raw "$BODY"
# header faults
push 400 BadTopic -X POST "$URL" -H "authorization: bearer $GOOD" -H "apns-topic: other.app" \
    -H "apns-push-type: alert" --data-raw "$BODY"
push 400 MissingTopic -X POST "$URL" -H "authorization: bearer $GOOD" -H "apns-push-type: alert" --data-raw "$BODY"
push 400 InvalidPushType -X POST "$URL" -H "authorization: bearer $GOOD" -H "apns-topic: chat.simplex.app" \
    -H "apns-push-type: loud" --data-raw "$BODY"
push 400 BadPriority -X POST "$URL" -H "authorization: bearer $GOOD" -H "apns-topic: chat.simplex.app" \
    -H "apns-push-type: background" --data-raw "$BODY"
push 400 BadExpirationDate -X POST "$URL" -H "authorization: bearer $GOOD" -H "apns-topic: chat.simplex.app" \
    -H "apns-push-type: alert" -H "apns-expiration: soon" --data-raw "$BODY"
push 400 BadDeviceToken -X POST "https://localhost:$PORT/3/device/xyz" -H "authorization: bearer $GOOD" \
    -H "apns-topic: chat.simplex.app" -H "apns-push-type: alert" --data-raw "$BODY"
push 400 PayloadEmpty -X POST "$URL" -H "authorization: bearer $GOOD" -H "apns-topic: chat.simplex.app" \
    -H "apns-push-type: alert" --data-raw ""
BIG=$(head -c 6000 /dev/zero | tr '\0' 'a')
push 413 PayloadTooLarge -X POST "$URL" -H "authorization: bearer $GOOD" -H "apns-topic: chat.simplex.app" \
    -H "apns-push-type: alert" --data-raw "{\"a\":\"$BIG\"}"
push 404 BadPath -X POST "https://localhost:$PORT/3/other" -H "authorization: bearer $GOOD" --data-raw "$BODY"
push 405 MethodNotAllowed "https://localhost:$PORT/3/device/$TOKEN"
# the failures file, per token
printf '%s 400 BadDeviceToken\nabcd 410 Unregistered\n' "$TOKEN" > "$T/s/failures"
push 400 BadDeviceToken -X POST "$URL" -H "authorization: bearer $GOOD" -H "apns-topic: chat.simplex.app" \
    -H "apns-push-type: alert" --data-raw "$BODY"
push 410 Unregistered -X POST "https://localhost:$PORT/3/device/abcd" -H "authorization: bearer $GOOD" \
    -H "apns-topic: chat.simplex.app" -H "apns-push-type: alert" --data-raw "$BODY"
grep -q '"timestamp":[0-9]' "$T/out" || fail "410 without a timestamp: $(cat "$T/out")"
push 200 "" -X POST "https://localhost:$PORT/3/device/abcdef" -H "authorization: bearer $GOOD" \
    -H "apns-topic: chat.simplex.app" -H "apns-push-type: alert" --data-raw "$BODY"

# what was recorded: one line per request, the first with its headers and body
L="$T/s/requests.jsonl"
[ "$(wc -l < "$L")" -eq 21 ] || fail "$(wc -l < "$L") lines recorded, expected 21"
first=$(head -n 1 "$L")
for want in "\"token\":\"$TOKEN\"" '"apns-push-type":"background"' '"apns-priority":"5"' \
            '"apns-topic":"chat.simplex.app"' "\"authorization\":\"bearer $GOOD\"" \
            '"body":"{\"aps\":{\"content-available\":1}' '"status":200'; do
    case $first in *"$want"*) ;; *) fail "first line lacks $want: $first" ;; esac
done
grep -q '"status":410,"reason":"Unregistered"' "$L" || fail "410 not recorded"
echo ok
