# Fuzz targets of src/crypto/keys and src/crypto/x509 (included by CMakeLists.txt).
sx_fuzz_target(der_key)
sx_fuzz_target(signed_key)
