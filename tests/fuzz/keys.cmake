# Fuzz targets of src/crypto/keys, src/crypto/x509 and src/crypto/ed25519_batch
# (the last differential against libsodium; seeds written by hand). Included by CMakeLists.txt.
sx_fuzz_target(der_key)
sx_fuzz_target(signed_key)
sx_fuzz_target(ed25519_batch)
