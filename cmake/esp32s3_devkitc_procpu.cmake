# SPDX-License-Identifier: Apache-2.0
#
# Include before find_package(Zephyr) to let `west build -b esp32s3_devkitc` build for the
# PRO CPU. Zephyr 4.1 refuses the short name of a board with two CPU targets ("Board
# qualifiers `/esp32s3` ... not found"); this maps it to esp32s3_devkitc/esp32s3/procpu before
# Zephyr resolves the board. It must be a FORCEd cache entry: west passes -DBOARD=..., and
# Zephyr reads the cache before normal variables. A BOARD given only in the environment is
# honoured too. Not with --sysbuild (sysbuild resolves the board before the app's CMake runs).
if(DEFINED CACHE{BOARD})
  set(_dp_board "$CACHE{BOARD}")
else()
  set(_dp_board "$ENV{BOARD}")
endif()
if(_dp_board STREQUAL "esp32s3_devkitc")
  message(STATUS "dispatcher-pool: BOARD esp32s3_devkitc -> esp32s3_devkitc/esp32s3/procpu")
  set(BOARD esp32s3_devkitc/esp32s3/procpu CACHE STRING "" FORCE)
endif()
unset(_dp_board)
