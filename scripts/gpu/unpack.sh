# Sourced by scripts/gpu/run.sh (on the machine without Node.js): xz, and the carried Node.js.
unxz_to() { # unxz_to FILE.xz DEST: xz if there is one, else Python's lzma
  if command -v xz >/dev/null; then xz -dc "$1" >"$2"; else
    python3 -c 'import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"
  fi
}
unpack_node() { # unpack_node DIR: .gpu/node.xz -> DIR/node, once
  [ -s .gpu/node.xz ] || return 1
  [ -x "$1/node" ] || { unxz_to .gpu/node.xz "$1/node.tmp" && chmod +x "$1/node.tmp" && mv "$1/node.tmp" "$1/node"; }
}
unpack_cli() { # unpack_cli DIR: .gpu/ncl.js.xz -> DIR/ncl.js (the `ncl` bundle)
  [ -s .gpu/ncl.js.xz ] || return 1
  unxz_to .gpu/ncl.js.xz "$1/ncl.js.tmp" && mv "$1/ncl.js.tmp" "$1/ncl.js"
}
