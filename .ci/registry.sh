#!/usr/bin/env bash
# Throwaway OCI registries for the push/pull tests: Debian's docker-registry (CNCF distribution
# 2.8) on 127.0.0.1, storage in a temporary directory, one open instance and one with htpasswd
# (Basic) authentication.
#
#   source .ci/registry.sh    exports the variables below into the calling shell
#   bash .ci/registry.sh      prints them as `export NAME=value` lines
#
#   PWA_TEST_REGISTRY           host:port of the open registry
#   PWA_TEST_REGISTRY_AUTH      host:port of the registry that needs a user name and password
#   PWA_TEST_REGISTRY_USER, PWA_TEST_REGISTRY_PASSWORD   its credentials
#   PWA_TEST_REGISTRY_PIDS      process ids of both registries (kill them when done)
#
# The registries stop by themselves when the owning process exits: the sourcing shell, the
# process that ran this script, or PWA_REGISTRY_OWNER_PID. Missing packages are installed with
# apt-get (docker-registry, skopeo, apache2-utils for htpasswd) unless PWA_REGISTRY_NO_INSTALL=1.

_pwa_registry_fail() {
  echo "registry.sh: $*" >&2
  return 1
}

_pwa_registry_port() {
  node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

_pwa_registry_wait() { # port pid log
  local i
  for i in $(seq 1 100); do
    if ! kill -0 "$2" 2>/dev/null; then
      _pwa_registry_fail "docker-registry on port $1 exited: $(tail -n 3 "$3" 2>/dev/null | tr '\n' ' ')"
      return 1
    fi
    if node -e 'fetch(process.argv[1]).then(r=>process.exit(r.status===200||r.status===401?0:1),()=>process.exit(1))' \
      "http://127.0.0.1:$1/v2/" 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  _pwa_registry_fail "docker-registry on port $1 did not answer /v2/ within 10 s (log: $3)"
}

_pwa_registry_start() { # name port dir [htpasswd-file]
  local name=$1 port=$2 dir=$3 htpasswd=${4:-}
  mkdir -p "$dir/$name/data"
  {
    echo "version: 0.1"
    echo "log: {level: error, accesslog: {disabled: true}}"
    echo "storage: {filesystem: {rootdirectory: $dir/$name/data}, delete: {enabled: true}}"
    echo "http: {addr: 127.0.0.1:$port, secret: $(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')}"
    if [ -n "$htpasswd" ]; then
      echo "auth: {htpasswd: {realm: proxy-wasm-as-test, path: $htpasswd}}"
    fi
  } >"$dir/$name/config.yml"
  docker-registry serve "$dir/$name/config.yml" </dev/null >"$dir/$name/log" 2>&1 &
  echo $!
}

_pwa_registry_main() {
  if ! command -v docker-registry >/dev/null 2>&1 || ! command -v skopeo >/dev/null 2>&1 ||
    ! command -v htpasswd >/dev/null 2>&1; then
    if [ "${PWA_REGISTRY_NO_INSTALL:-}" = 1 ]; then
      _pwa_registry_fail "docker-registry, skopeo or htpasswd is not installed (PWA_REGISTRY_NO_INSTALL=1)"
      return 1
    fi
    echo "registry.sh: installing docker-registry skopeo apache2-utils" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update >/dev/null || { _pwa_registry_fail "apt-get update failed"; return 1; }
    apt-get install -y --no-install-recommends docker-registry skopeo apache2-utils >/dev/null ||
      { _pwa_registry_fail "apt-get install failed"; return 1; }
  fi
  command -v node >/dev/null 2>&1 || { _pwa_registry_fail "node is needed to pick ports"; return 1; }

  local dir open_port auth_port open_pid auth_pid user password owner
  dir=$(mktemp -d "${TMPDIR:-/tmp}/pwa-registry.XXXXXX") || return 1
  user=pwa-test
  password=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
  htpasswd -Bbn "$user" "$password" >"$dir/htpasswd" 2>/dev/null ||
    { _pwa_registry_fail "htpasswd failed"; return 1; }

  open_port=$(_pwa_registry_port) && auth_port=$(_pwa_registry_port) || return 1
  while [ "$auth_port" = "$open_port" ]; do auth_port=$(_pwa_registry_port) || return 1; done
  open_pid=$(_pwa_registry_start open "$open_port" "$dir")
  auth_pid=$(_pwa_registry_start auth "$auth_port" "$dir" "$dir/htpasswd")

  # Stop both registries when the owner goes away, so nothing outlives the test run.
  owner=${PWA_REGISTRY_OWNER_PID:-$1}
  (
    while kill -0 "$owner" 2>/dev/null; do sleep 2; done
    kill "$open_pid" "$auth_pid" 2>/dev/null
    rm -rf "$dir"
  ) </dev/null >/dev/null 2>&1 &

  _pwa_registry_wait "$open_port" "$open_pid" "$dir/open/log" || { kill "$open_pid" "$auth_pid" 2>/dev/null; return 1; }
  _pwa_registry_wait "$auth_port" "$auth_pid" "$dir/auth/log" || { kill "$open_pid" "$auth_pid" 2>/dev/null; return 1; }

  _PWA_REGISTRY_EXPORTS="PWA_TEST_REGISTRY=127.0.0.1:$open_port
PWA_TEST_REGISTRY_AUTH=127.0.0.1:$auth_port
PWA_TEST_REGISTRY_USER=$user
PWA_TEST_REGISTRY_PASSWORD=$password
PWA_TEST_REGISTRY_PIDS=\"$open_pid $auth_pid\""
}

if (return 0 2>/dev/null); then
  # Sourced: the calling shell owns the registries.
  if _pwa_registry_main "$$"; then
    while IFS= read -r _pwa_line; do eval "export $_pwa_line"; done <<<"$_PWA_REGISTRY_EXPORTS"
    echo "registry.sh: registries at $PWA_TEST_REGISTRY (open) and $PWA_TEST_REGISTRY_AUTH (htpasswd)" >&2
  fi
  unset _pwa_line _PWA_REGISTRY_EXPORTS
  unset -f _pwa_registry_fail _pwa_registry_port _pwa_registry_wait _pwa_registry_start _pwa_registry_main
else
  # Executed: the process that ran this script owns them.
  _pwa_registry_main "$PPID" || exit 1
  while IFS= read -r line; do echo "export $line"; done <<<"$_PWA_REGISTRY_EXPORTS"
fi
