# Fuzz targets of src/crypto (included by CMakeLists.txt).
sx_fuzz_target(sbblock)
