# Fuzz targets of the post-quantum KEM (crypto/sntrup761), included by CMakeLists.txt.
sx_fuzz_target(sntrup761)
