#!/usr/bin/env bash
# Install the system tools and Debian data packages used to build the training corpus.
#
# Usage: bash streamcodec/train/install_data_packages.sh [DATA_DIR]   (default: data)
#
# Idempotent; meant to run as root on a Debian 12 (bookworm) host or container.
# - enables the contrib and non-free components (mbrola voices live in non-free),
# - installs speech/music synthesizers and audio tools,
# - downloads (without installing) game data packages and unpacks them into
#   DATA_DIR/raw/<package>.
set -euo pipefail

DATA_DIR="${1:-data}"
CACHE_DIR="${DATA_DIR}/cache/debs"
RAW_DIR="${DATA_DIR}/raw"
export DEBIAN_FRONTEND=noninteractive

log() { printf '[install_data_packages] %s\n' "$*"; }

if [[ "$(id -u)" -ne 0 ]]; then
    echo "error: must run as root (apt-get install)" >&2
    exit 1
fi

# --- 1. enable contrib and non-free -------------------------------------------------
enable_components_deb822() {
    local file="$1" comp
    for comp in contrib non-free; do
        # Append the component to every "Components:" line that lacks it.
        sed -i -E "/^Components:/{/[[:space:]]${comp}([[:space:]]|\$)/!s/\$/ ${comp}/}" "$file"
    done
    log "components in ${file}: $(grep -h '^Components:' "$file" | sort -u | tr '\n' ';')"
}

enable_components_classic() {
    local file="$1" comp
    for comp in contrib non-free; do
        # Only touch active "deb"/"deb-src" lines that use the "main" component.
        sed -i -E "/^[[:space:]]*deb(-src)?[[:space:]].*[[:space:]]main([[:space:]]|\$)/{/[[:space:]]${comp}([[:space:]]|\$)/!s/\$/ ${comp}/}" "$file"
    done
    log "enabled contrib non-free in ${file}"
}

found_sources=0
for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f "$f" ]] || continue
    enable_components_deb822 "$f"
    found_sources=1
done
if [[ -f /etc/apt/sources.list ]] && grep -qE '^[[:space:]]*deb[[:space:]]' /etc/apt/sources.list; then
    enable_components_classic /etc/apt/sources.list
    found_sources=1
fi
if [[ "$found_sources" -eq 0 ]]; then
    echo "error: no apt sources found (/etc/apt/sources.list.d/*.sources or /etc/apt/sources.list)" >&2
    exit 1
fi

log "apt-get update"
apt-get update -qq

# --- 2. install tools ------------------------------------------------------------------
available() { apt-cache show "$1" >/dev/null 2>&1; }

BASE_PACKAGES=(espeak-ng mbrola festival fluidsynth fluid-soundfont-gm sox alsa-utils)
MBROLA_VOICES=(mbrola-us1 mbrola-us2 mbrola-us3 mbrola-en1 mbrola-de1 mbrola-de2 mbrola-de4
               mbrola-de6 mbrola-fr1 mbrola-fr4 mbrola-es1 mbrola-es2 mbrola-it3 mbrola-it4
               mbrola-nl2 mbrola-br1 mbrola-pl1 mbrola-ro1 mbrola-cz2 mbrola-hu1 mbrola-sw1)
FESTIVAL_VOICES=(festvox-kallpc16k festvox-kdlpc16k festvox-rablpc16k festvox-us-slt-hts
                 festvox-ellpc11k festvox-itapc16k festvox-don festvox-us1 festvox-us2 festvox-us3)
OPTIONAL_PACKAGES=(sound-theme-freedesktop)

to_install=("${BASE_PACKAGES[@]}")
skipped=()
for p in "${MBROLA_VOICES[@]}" "${FESTIVAL_VOICES[@]}" "${OPTIONAL_PACKAGES[@]}"; do
    if available "$p"; then to_install+=("$p"); else skipped+=("$p"); fi
done

log "installing ${#to_install[@]} packages: ${to_install[*]}"
apt-get install -y -qq --no-install-recommends "${to_install[@]}" >/dev/null
if [[ ${#skipped[@]} -gt 0 ]]; then
    log "not available in the archive, skipped: ${skipped[*]}"
fi

# --- 3. download and unpack data packages (not installed) -------------------------------
DATA_PACKAGES=(klettres-data hedgewars-data wesnoth-1.16-music)
mkdir -p "$CACHE_DIR" "$RAW_DIR"
CACHE_ABS="$(cd "$CACHE_DIR" && pwd)"
for p in "${DATA_PACKAGES[@]}"; do
    if ! available "$p"; then
        log "WARNING: data package ${p} not available, skipped"
        continue
    fi
    deb=$(compgen -G "${CACHE_ABS}/${p}_*.deb" | head -n 1 || true)
    if [[ -z "$deb" ]]; then
        log "downloading ${p}"
        (cd "$CACHE_ABS" && apt-get download -qq -o APT::Sandbox::User=root "$p")
        deb=$(compgen -G "${CACHE_ABS}/${p}_*.deb" | head -n 1)
    else
        log "${p}: using cached $(basename "$deb")"
    fi
    target="${RAW_DIR}/${p}"
    if [[ -f "${target}/.unpacked" ]]; then
        log "${p}: already unpacked in ${target}"
        continue
    fi
    rm -rf "$target"
    mkdir -p "$target"
    dpkg -x "$deb" "$target"
    touch "${target}/.unpacked"
    log "${p}: unpacked $(find "$target" -type f | wc -l) files ($(du -sh "$target" | cut -f1)) into ${target}"
done

log "done: tools installed, data packages in ${RAW_DIR}"
