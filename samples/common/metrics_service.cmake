# SPDX-License-Identifier: Apache-2.0
# samples/common/metrics_service: include() this after find_package(Zephyr) in a sample that
# serves GET /api/metrics (the sample's Kconfig rsources Kconfig.metrics_service).

target_sources(app PRIVATE ${CMAKE_CURRENT_LIST_DIR}/metrics_service.c)
target_include_directories(app PRIVATE ${CMAKE_CURRENT_LIST_DIR})

# The HTTP service's resources live in an iterable ROM section named after the service.
zephyr_linker_sources(SECTIONS ${CMAKE_CURRENT_LIST_DIR}/sections-rom.ld)
zephyr_linker_section(NAME http_resource_desc_metrics_service
  KVMA RAM_REGION GROUP RODATA_REGION SUBALIGN ${CONFIG_LINKER_ITERABLE_SUBALIGN})
