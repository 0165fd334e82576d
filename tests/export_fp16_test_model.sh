#!/bin/sh
# ctest fixture step: on a GPU host (EDGESERVE_TEST_DEVICE=cuda:N) also export the fp16 variant of mobilenetv3
# for the fp16 serving test; elsewhere there is nothing to export (that test skips, saying why).
#   export_fp16_test_model.sh PYTHON EXPORT_SCRIPT OUT_DIR
case ${EDGESERVE_TEST_DEVICE:-} in
  cuda*) exec "$1" "$2" --models mobilenetv3 --device cuda --half --out "$3" ;;
  *) echo "EDGESERVE_TEST_DEVICE is not a CUDA device: no fp16 test model to export" ;;
esac
