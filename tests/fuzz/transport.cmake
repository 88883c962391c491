# Fuzz targets of src/transport (included by CMakeLists.txt).
sx_fuzz_target(block)
sx_fuzz_target(smp_hello)
sx_fuzz_target(socks)
