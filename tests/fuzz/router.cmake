# Fuzz targets of src/router (included by CMakeLists.txt).
sx_fuzz_target(storelog)
target_link_libraries(fuzz_storelog PRIVATE sx_smp_router)
