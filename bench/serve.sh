#!/usr/bin/env bash
# Media byte serving: Kinora vs nginx (sendfile) serving the same MP4, under wrk on
# loopback, for 64 KiB and 1 MiB ranges. Prints a table with the ratios.
# Usage: bench/serve.sh [seconds per run, default 10]   (needs: nginx, wrk; cargo build --release)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
target=${CARGO_TARGET_DIR:-$PWD/target}
kinora="$target/release/kinora"
command -v wrk >/dev/null && command -v nginx >/dev/null || { echo "install nginx and wrk (apt-get install nginx-light wrk)" >&2; exit 1; }
tmp=$(mktemp -d /tmp/kinora-serve.XXXXXX)
cleanup() { kill "$kpid" 2>/dev/null || true; nginx -c "$tmp/nginx.conf" -s stop 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=size=720x1280:rate=30 -t 20 -c:v libx264 -preset ultrafast -b:v 4M "$tmp/src.mp4"
"$kinora" serve --data "$tmp/data" --listen 127.0.0.1:0 > "$tmp/kinora.out" 2>/dev/null &
kpid=$!
until grep -q "listening on" "$tmp/kinora.out"; do sleep 0.1; done
base=$(sed -n 's/.*listening on //p' "$tmp/kinora.out" | head -1)
curl -sf -X POST "$base/api/v1/accounts" -H 'content-type: application/json' -d '{"username":"bench","password":"bench-password"}' >/dev/null
tok=$(curl -sf -X POST "$base/api/v1/auth/token" -H 'content-type: application/json' -d '{"username":"bench","password":"bench-password"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
vid=$(curl -sf -H "Authorization: Bearer $tok" -F file=@"$tmp/src.mp4" "$base/api/v1/videos" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
until [ "$(curl -sf -H "Authorization: Bearer $tok" "$base/api/v1/videos/$vid" | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')" != processing ]; do sleep 0.5; done
url=$(curl -sf -H "Authorization: Bearer $tok" "$base/api/v1/videos/$vid" | python3 -c "import json,sys; print([s[\"url\"] for s in json.load(sys.stdin)[\"sources\"] if s[\"height\"] == 1280][0])")
file=$(find "$tmp/data/regions/local/media/$vid" -name '720p-*.mp4')
size=$(stat -c %s "$file")

mkdir -p "$tmp/www"
cp "$file" "$tmp/www/v.mp4"
cat > "$tmp/nginx.conf" <<CONF
worker_processes 1;
pid $tmp/nginx.pid;
error_log $tmp/nginx.err;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on; tcp_nopush on;
  client_body_temp_path $tmp; proxy_temp_path $tmp; fastcgi_temp_path $tmp; uwsgi_temp_path $tmp; scgi_temp_path $tmp;
  server { listen 127.0.0.1:18089; root $tmp/www; location / { add_header Cache-Control "public, max-age=31536000, immutable"; } }
}
CONF
nginx -c "$tmp/nginx.conf"

run() { # url range -> "req/s MB/s"
  wrk -t1 -c8 -d"${secs}s" -H "Range: bytes=$2" "$1" | awk '/Requests\/sec/ {r=$2} /Transfer\/sec/ {t=$2} END {
    v=t; if (t ~ /GB/) {sub(/GB/,"",v); v=v*1024} else if (t ~ /MB/) {sub(/MB/,"",v)} else if (t ~ /KB/) {sub(/KB/,"",v); v=v/1024}
    printf "%s %.1f\n", r, v }'
}
echo "machine: $(nproc) cores; object $((size/1024)) KiB; wrk -t1 -c8 -d${secs}s on loopback; Kinora serves through object_store (local dir) with a DB policy check per request"
printf '| %-10s | %-8s | %12s | %10s |\n' range server "requests/s" "MB/s"
printf '|%s|%s|%s|%s|\n' ------------ ---------- -------------- ------------
for r in "0-65535:64 KiB" "0-1048575:1 MiB"; do
  range=${r%%:*}; name=${r#*:}
  read -r kr kt < <(run "$base$url" "$range")
  read -r nr nt < <(run "http://127.0.0.1:18089/v.mp4" "$range")
  printf '| %-10s | %-8s | %12s | %10s |\n' "$name" kinora "$kr" "$kt" "$name" nginx "$nr" "$nt"
  printf '| %-10s | %-8s | %12s | %10s |\n' "$name" "ratio" "$(awk -v a="$kr" -v b="$nr" 'BEGIN{printf "%.2f", a/b}')" "$(awk -v a="$kt" -v b="$nt" 'BEGIN{printf "%.2f", a/b}')"
done
