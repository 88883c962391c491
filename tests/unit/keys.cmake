# crypto/keys and crypto/x509 (asymmetric keys, certificates, signed keys)
sx_unit_test(keys test_keys.c)
sx_unit_test(x509 test_x509.c)
sx_unit_test(ed25519_batch test_ed25519_batch.c)
# ~130k signatures against libsodium: generous under sanitizers on a loaded machine.
set_tests_properties(unit.ed25519_batch PROPERTIES TIMEOUT 300)
