# Sourced by scripts/install-deps.sh and scripts/install-bench-deps.sh: install
# what is missing of APT_PACKAGES, PIP_PACKAGES and PIP_NODEPS_PACKAGES (the
# caller's arrays), by package name only. The caller defines log().

install_missing_apt() {
  local missing=() p
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]} == 0)); then
    log "system packages present"
    return
  fi
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  log "apt-get install ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# pip show takes the name without extras: "tritonclient[http]" -> tritonclient.
install_missing_pip() {
  local py=${PYTHON:-python3} missing=() p
  for p in "${PIP_PACKAGES[@]}" "${PIP_NODEPS_PACKAGES[@]}"; do
    "$py" -m pip show -q "${p%%[*}" >/dev/null 2>&1 || missing+=("$p")
  done
  if ((${#missing[@]} == 0)); then
    log "python packages present"
    return
  fi
  for p in "${missing[@]}"; do
    if [[ " ${PIP_NODEPS_PACKAGES[*]} " == *" $p "* ]]; then
      log "pip install --no-deps $p"
      "$py" -m pip install -q --disable-pip-version-check --no-deps "$p"
    else
      log "pip install $p"
      "$py" -m pip install -q --disable-pip-version-check "$p"
    fi
  done
}
