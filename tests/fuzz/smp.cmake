# Fuzz targets of src/smp (included by CMakeLists.txt). Seeds:
# tests/fuzz/gen_smp_seeds.py writes corpus/smp_command and corpus/smp_response.
sx_fuzz_target(smp_command)
sx_fuzz_target(smp_response)
sx_fuzz_target(address)
