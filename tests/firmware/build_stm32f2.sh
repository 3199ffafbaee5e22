#!/bin/sh
# Cross-builds the node images (firmware/port/stm32f2) for ctest: configure and build in
# BINARY with the arm-none-eabi toolchain file. Exit 77 (skipped) without the toolchain.
set -eu
SOURCE=$1 BINARY=$2 TOOLCHAIN=$3
if ! command -v arm-none-eabi-gcc >/dev/null 2>&1; then
    echo "arm-none-eabi-gcc not installed (apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi)"
    exit 77
fi
cmake -S "$SOURCE" -B "$BINARY" -DCMAKE_TOOLCHAIN_FILE="$TOOLCHAIN"
cmake --build "$BINARY"
