#!/usr/bin/env bash
# Start or stop the CDN stand-in (nginx from Debian) serving a directory on 127.0.0.1.
#
#   tools/cdn/cdn.sh start ROOT PORT ORIGINS RUNDIR  serve ROOT; CORS for ORIGINS (the page's
#                                                    origins, space-separated, no wildcard)
#   tools/cdn/cdn.sh stop RUNDIR
#
# RUNDIR holds the rendered config, the pid file and the logs (access.log: one line per request,
# which the end-to-end tests read to prove a reload made no model request).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}

start() {
  local root port origin run
  root=$(cd "$1" && pwd) port=$2 origin=$3 run=$4
  mkdir -p "$run/tmp"
  run=$(cd "$run" && pwd)
  # As root, nginx's workers would drop to `nobody`, who may not read ROOT: keep our user.
  local user=""
  [[ $(id -u) == 0 ]] && user="user root root;"
  local map="" o
  for o in $origin; do map+="        \"$o\" \"$o\";\n"; done
  render() { sed -e "s|@ROOT@|$root|g" -e "s|@PORT@|$port|g" -e "s|@ORIGIN@|$origin|g" -e "s|@RUN@|$run|g" \
    -e "s|@USER@|$user|g" -e "s|@ORIGIN_MAP@|$map|g" "$1"; }
  render "$HERE/nginx.conf.in" > "$run/nginx.conf"
  render "$HERE/cors.conf.in" > "$run/cors.conf"
  "$NGINX" -p "$run" -e "$run/error.log" -c "$run/nginx.conf"
  for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && { echo "cdn: http://127.0.0.1:$port/ serving $root"; return; }
    sleep 0.1
  done
  echo "cdn: nginx did not start on port $port; see $run/error.log" >&2
  cat "$run/error.log" >&2
  exit 1
}

stop() {
  local run=$1 pid
  [[ -f $run/nginx.pid ]] || return 0
  pid=$(cat "$run/nginx.pid")
  kill -QUIT "$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || { rm -f "$run/nginx.pid"; return; }; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$run/nginx.pid"
}

case "${1:-}" in
  start) shift; [[ $# == 4 ]] || { echo "usage: cdn.sh start ROOT PORT ORIGIN RUNDIR" >&2; exit 2; }; start "$@" ;;
  stop) shift; [[ $# == 1 ]] || { echo "usage: cdn.sh stop RUNDIR" >&2; exit 2; }; stop "$1" ;;
  *) echo "usage: cdn.sh start ROOT PORT ORIGIN RUNDIR | cdn.sh stop RUNDIR" >&2; exit 2 ;;
esac
