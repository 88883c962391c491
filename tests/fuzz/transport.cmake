# Fuzz targets of src/transport (included by CMakeLists.txt).
sx_fuzz_target(block)
