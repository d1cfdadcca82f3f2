# SPDX-License-Identifier: Apache-2.0
#
# How the Rust library is built for the ESP32 family's Xtensa cores. The one place that names the
# pinned nightly and the code-generation flags: the module's CMakeLists.txt includes it, and
# scripts/test reads it in script mode for its Xtensa cross-build and ABI check:
#
#   cmake -DTRIPLE=xtensa-esp32s3-none-elf -P cmake/rust_xtensa.cmake
#     prints NIGHTLY=..., RUSTFLAGS=..., CARGO_ARGS=... (one per line)
#
# Two toolchains build these targets:
#   * Espressif's fork (`espup install`, rustup toolchain `esp`): knows every ESP32 CPU, its
#     built-in targets already select the windowed ABI and the core's features;
#   * upstream nightly from 2026-10-30 on (LLVM 23), pinned below: its built-in tier-3 targets
#     need `-C target-cpu` (without it: the call0 ABI and atomic libcalls) and the FPU off
#     (with it, compiler_builtins fails to compile), and it does not know `esp32s3`: the ESP32's
#     LX6 CPU model (windowed, S32C1I, no FPU) is the subset the LX7 runs.
# Both need `-Zbuild-std=core` (no prebuilt core). Upstream LLVM 23 fails on `core` at opt-level
# 2 or 3 with one codegen unit ("Cannot scavenge register without an emergency spill slot"):
# `core` is built with 16 units (a profile override given on the command line: in Cargo.toml it
# would warn in every build without build-std); the module's own crates keep the `firmware`
# profile's opt-level 3 and one unit.

set(DISPATCHER_POOL_XTENSA_NIGHTLY nightly-2026-10-30)

# dispatcher_pool_xtensa_flags(<triple> <toolchain> <rustflags-var> <cargo-args-var>)
#   <toolchain> is `esp` or an upstream toolchain name; sets RUSTFLAGS and the extra cargo
#   arguments for that target and toolchain in the caller's scope.
function(dispatcher_pool_xtensa_flags triple toolchain rustflags_var cargo_args_var)
  set(cargo_args -Zbuild-std=core --config profile.firmware.package.core.codegen-units=16)
  if(toolchain STREQUAL "esp")
    set(rustflags "")
  else()
    if(triple MATCHES "^xtensa-esp32s2-")
      # LX7 without S32C1I: CAS comes from the core's single-core feature.
      set(cpu esp32s2)
    elseif(triple MATCHES "^xtensa-esp32(s3)?-")
      set(cpu esp32)
    else()
      message(FATAL_ERROR "dispatcher-pool: no Xtensa CPU known for ${triple}")
    endif()
    set(rustflags "-C target-cpu=${cpu} -C target-feature=-fp")
  endif()
  set(${rustflags_var} "${rustflags}" PARENT_SCOPE)
  set(${cargo_args_var} "${cargo_args}" PARENT_SCOPE)
endfunction()

if(CMAKE_SCRIPT_MODE_FILE AND CMAKE_SCRIPT_MODE_FILE STREQUAL CMAKE_CURRENT_LIST_FILE)
  if(NOT TRIPLE)
    message(FATAL_ERROR "usage: cmake -DTRIPLE=<xtensa triple> -P ${CMAKE_CURRENT_LIST_FILE}")
  endif()
  dispatcher_pool_xtensa_flags(${TRIPLE} ${DISPATCHER_POOL_XTENSA_NIGHTLY} _flags _args)
  string(REPLACE ";" " " _args "${_args}")
  execute_process(COMMAND ${CMAKE_COMMAND} -E echo "NIGHTLY=${DISPATCHER_POOL_XTENSA_NIGHTLY}")
  execute_process(COMMAND ${CMAKE_COMMAND} -E echo "RUSTFLAGS=${_flags}")
  execute_process(COMMAND ${CMAKE_COMMAND} -E echo "CARGO_ARGS=${_args}")
endif()
