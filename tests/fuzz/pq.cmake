# Fuzz targets of the post-quantum KEM (crypto/sntrup761), included by CMakeLists.txt.
sx_fuzz_target(sntrup761)
# E2E ratchet parameters and ratchet messages (crypto/x3dh, crypto/ratchet).
sx_fuzz_target(e2e_params)
sx_fuzz_target(ratchet_msg)
# The text form of E2E ratchet parameters in connection links (crypto/x3dh).
sx_fuzz_target(e2e_params_str)
