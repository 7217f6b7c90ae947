#!/usr/bin/env bash
# ChatGateway: the one entry point for operators, developers and benchmarkers. `./run.sh help` lists it all.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
ROOT=$(pwd)
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

SERVER_PROJECT=src/ChatGateway.Server/ChatGateway.Server.csproj
SERVER_DLL=src/ChatGateway.Server/bin/Release/net10.0/ChatGateway.Server.dll

usage() {
  cat <<'USAGE'
Usage: ./run.sh [command] [options]

Commands:
  (none) | run [options]   Build in Release and start the gateway (port 8080, data in ./data).
  token USER [options]     Print an access token for USER (a numeric user id), signed with the secret the
                           server uses with the same options (Auth:JwtSecret / CHAT_JWT_SECRET, or the
                           development secret under --data). --lifetime 1.00:00:00 sets its validity.
  test                     Install what the tests need, run every test suite, end with "N passed, N failed".
  bench [micro [FILTER]]   Run the BenchmarkDotNet suites (FILTER: e.g. '*FrameParse*'; default all).
  bench recovery [N]       Time crash recovery of a store holding N messages (default 1,000,000).
  bench presence           Presence cost: 18,000 heartbeating users; a mass reconnect with subscriptions.
  bench growth [S] [commit]  One sequencer shard's rate as its store fills, printed every 5 s for S seconds (60).
  bench e2e [idle|pairs|rate|group|reconnect|presence] [--quick] [--servers LIST]
                           End-to-end load against real server processes, the gateway side by side with
                           SignalR, ASP.NET Core WebSockets, Node ws and a raw TCP relay (server on core 0,
                           load on core 1); JSON, Markdown and PNG charts in bench/results.
                           ./run.sh bench e2e --help lists every option.
  help                     This text.

Options for run (each also settable as configuration, see README.md):
  --port N                 TCP port for WebSocket (/ws) and HTTP (/healthz). Env: CHAT_PORT. Default 8080.
  --address ADDR           Listen address. Env: CHAT_ADDRESS. Default 0.0.0.0.
  --data DIR               Folder for durable state. Env: CHAT_DATA. Default ./data.
  --Section:Key VALUE      Any other setting, e.g. --WebSockets:MaxMessageSize 131072
                           (env: CHAT_WebSockets__MaxMessageSize=131072).
USAGE
}

need_dotnet() {
  if ! command -v dotnet >/dev/null 2>&1; then
    echo "run.sh: the .NET 10 SDK is required (https://dot.net); 'dotnet' is not on PATH" >&2
    exit 1
  fi
}

# Installs a Debian package when its command is missing (CI machines start with nothing installed by hand).
need_command() {
  local command=$1 package=$2
  command -v "$command" >/dev/null 2>&1 && return 0
  echo "run.sh: installing $package for $command" >&2
  if [ "$(id -u)" -ne 0 ]; then
    echo "run.sh: $command is missing and installing $package needs root (apt-get install $package)" >&2
    exit 1
  fi
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" >/dev/null
}

# The npm packages of a folder with a package-lock.json, reinstalled when the lock file changes.
need_node_packages() {
  local dir=$1
  need_command node nodejs
  need_command npm npm
  if [ ! -f "$dir/node_modules/.package-lock.json" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

# npm packages of the interop tests (Node `ws`, @msgpack/msgpack, playwright-core), of the Node `ws` peer,
# and Debian's Chromium for the browser test.
need_interop_packages() {
  need_command chromium chromium
  need_node_packages tests/interop
  need_node_packages bench/peers/node-ws # the bench suite's tests start the Node ws peer
}

cmd_run() {
  need_dotnet
  dotnet build "$SERVER_PROJECT" -c Release -nologo -clp:ErrorsOnly -v:quiet
  exec dotnet "$SERVER_DLL" "$@"
}

cmd_token() {
  need_dotnet
  dotnet build "$SERVER_PROJECT" -c Release -nologo -clp:ErrorsOnly -v:quiet >&2
  exec dotnet "$SERVER_DLL" token "$@"
}

cmd_test() {
  need_dotnet
  need_interop_packages
  local log rc=0
  log=$(mktemp)
  dotnet build ChatGateway.sln -c Release -nologo -clp:ErrorsOnly -v:quiet || rc=$?
  if [ "$rc" -eq 0 ]; then
    # One test assembly at a time: the suites start real servers and processes, and 2 cores are shared.
    # A test that hangs is killed after 5 minutes and counted as failed, instead of stalling the run.
    dotnet test ChatGateway.sln -c Release --no-build -m:1 -nologo --blame-hang-timeout 5m 2>&1 | tee "$log" || rc=$?
  fi
  local passed failed
  passed=$(grep -Eo 'Passed: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
  failed=$(grep -Eo 'Failed: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
  rm -f "$log"
  if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
    failed=1 # the build or the test host failed without a test to blame
  fi
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}

cmd_bench() {
  need_dotnet
  local kind=${1:-micro}
  case "$kind" in
    micro)
      shift || true
      local filter=${1:-*}
      [ $# -gt 0 ] && shift
      dotnet run -c Release --project bench/ChatGateway.Benchmarks -- --filter "$filter" "$@"
      ;;
    recovery)
      shift
      dotnet run -c Release --project bench/ChatGateway.Benchmarks -- recovery "$@"
      ;;
    presence)
      shift
      dotnet run -c Release --project bench/ChatGateway.Benchmarks -- presence "$@"
      ;;
    growth)
      shift
      dotnet run -c Release --project bench/ChatGateway.Benchmarks -- growth "$@"
      ;;
    e2e)
      shift
      need_node_packages bench/peers/node-ws # the Node `ws` peer
      dotnet build bench/ChatGateway.LoadTest -c Release -nologo -clp:ErrorsOnly -v:quiet
      dotnet bench/ChatGateway.LoadTest/bin/Release/net10.0/ChatGateway.LoadTest.dll "$@"
      ;;
    *)
      echo "run.sh bench: unknown suite '$kind' (available: micro, recovery, presence, growth, e2e)" >&2
      exit 2
      ;;
  esac
}

case "${1:-run}" in
  run) [ $# -gt 0 ] && shift; cmd_run "$@" ;;
  token) shift; cmd_token "$@" ;;
  test) shift; cmd_test "$@" ;;
  bench) shift; cmd_bench "$@" ;;
  help|-h|--help) usage ;;
  -*) cmd_run "$@" ;;
  *) echo "run.sh: unknown command '$1'" >&2; usage >&2; exit 2 ;;
esac
