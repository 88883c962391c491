# crypto/keys and crypto/x509 (asymmetric keys, certificates, signed keys)
sx_unit_test(keys test_keys.c)
sx_unit_test(x509 test_x509.c)
sx_unit_test(ed25519_batch test_ed25519_batch.c)
