# Sourced by the CI scripts: puts the toolchains of a fresh machine on PATH
# even when no login shell set it up (cargo, go, pyenv's python).
for dir in "$HOME/.pyenv/shims" "$HOME/go/bin" /usr/local/go/bin "$HOME/.cargo/bin"; do
  if [[ -d "$dir" && ":$PATH:" != *":$dir:"* ]]; then
    PATH="$dir:$PATH"
  fi
done
export PATH
