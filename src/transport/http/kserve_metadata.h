// KServe v2 metadata replies: the server's (GET /v2), a model's (GET /v2/models/{m}) and Triton's model
// configuration (GET /v2/models/{m}/config, which tritonclient's get_model_config reads). Pure functions.
#pragma once

#include <string>
#include <vector>

#include "transport/http/http_settings.h"

namespace edgeserve::transport::http {

// {"name": "edgeserve", "version": ..., "extensions": [...]}: "cuda_shared_memory" among them when this build can
// open CUDA regions.
std::string server_metadata_json(bool cuda_shared_memory);
// name, versions ["1"], platform, inputs and outputs with name, datatype and shape.
std::string model_metadata_json(const ServedModel& model);
// name, platform, backend, max_batch_size 0 (shapes carry the batch dimension: the server batches requests
// itself), input and output with data_type ("TYPE_FP32") and dims.
std::string model_config_json(const ServedModel& model);

// The output names of a reply: the outputs `select` chose, in the model's order (topk: "<name>_ids" and
// "<name>_scores" per output); "output<i>" when the model is not known (a gateway) and the counts do not fit.
std::vector<std::string> reply_output_names(const ServedModel* model, uint8_t select, size_t n_outputs);

}  // namespace edgeserve::transport::http
