# Fuzz targets of src/router (included by CMakeLists.txt).
sx_fuzz_target(storelog)
target_link_libraries(fuzz_storelog PRIVATE sx_smp_router)
sx_fuzz_target(msgjournal)
target_link_libraries(fuzz_msgjournal PRIVATE sx_smp_router)
