# Progress lines for the builds from the Go module proxy (sourced by build-control-plane.sh and
# build-helm.sh): which step of how many, how far, and the time since the build started. A cold
# build takes minutes on a small machine; without these it would print one line and then nothing.
# The caller sets `label` (the line's prefix) and `steps` (how many steps there are).

build_start=$SECONDS
step_n=0
# How often a long step says how far it is, in seconds.
progress_every=${KUBEUSERS_BUILD_PROGRESS_SECONDS:-15}

elapsed() { local s=$((SECONDS - build_start)); printf '%dm%02ds' $((s / 60)) $((s % 60)); }

# step "what this step does": the next step's header line.
step() {
  step_n=$((step_n + 1))
  echo "$label: [$step_n/$steps] $1 ($(elapsed) so far)"
}

# each_line HANDLER: runs HANDLER for every line on stdin, and `report` whenever a progress line is
# due, also while no line comes (a link step, or packages taken from the Go build cache, print none).
each_line() {
  local handler=$1 last=$SECONDS line rc
  while :; do
    if IFS= read -r -t "$progress_every" line; then
      "$handler" "$line"
    else
      rc=$?
      # A timeout (above 128) is no end of input: say how far it is and go on reading.
      ((rc > 128)) || break
    fi
    if ((SECONDS - last >= progress_every)); then
      report
      last=$SECONDS
    fi
  done
}

# count_downloads: reads the go command's stderr and says how many modules it has fetched; anything
# else the go command printed (an error) is passed through.
count_downloads() {
  local n=0
  on_line() {
    case $1 in
      'go: downloading '*) n=$((n + 1)) ;;
      'go: finding module '* | 'go: found '*) ;;
      *) echo "$1" >&2 ;;
    esac
  }
  report() { echo "$label: [$step_n/$steps]   $n modules downloaded ($(elapsed))"; }
  each_line on_line
  report
}

# count_packages TOTAL: reads `go build -v` (one package name per line, as each is compiled) and
# says how many of TOTAL are done; compiler errors are passed through. Packages the Go build cache
# already holds are not printed, and linking prints nothing, so a warm build ends below 100%.
count_packages() {
  local total=$1 n=0
  on_line() {
    case $1 in
      '' | '#'* | *' '* | *:*) echo "$1" >&2 ;;
      *) n=$((n + 1)) ;;
    esac
  }
  report() {
    echo "$label: [$step_n/$steps]   $n/$total packages compiled ($((100 * n / total))%, $(elapsed))"
  }
  each_line on_line
  if ((n < total)); then
    echo "$label: [$step_n/$steps]   $n/$total packages compiled, the rest from the Go build cache ($(elapsed))"
  else
    echo "$label: [$step_n/$steps]   $n/$total packages compiled ($(elapsed))"
  fi
}
