# SPDX-License-Identifier: Apache-2.0
#
# Include after find_package(Zephyr). Debian's arm-none-eabi binutils (2.39+) warns "missing
# .note.GNU-stack section implies executable stack" for some of its own libc/libgcc objects,
# and Twister links with --fatal-warnings. This silences only that warning, and only where the
# linker knows the option (the Zephyr SDK's toolchains do not need it).
if(CMAKE_LINKER)
  execute_process(COMMAND ${CMAKE_LINKER} --help OUTPUT_VARIABLE _dp_ld_help ERROR_QUIET)
  if(_dp_ld_help MATCHES "--no-warn-execstack")
    zephyr_ld_options(-Wl,--no-warn-execstack)
  endif()
  unset(_dp_ld_help)
endif()
