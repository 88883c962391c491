# Fuzz targets of src/client (included by CMakeLists.txt).
sx_fuzz_target(queue_file)
target_link_libraries(fuzz_queue_file PRIVATE sx_smp_client)
