#include "http_infer.h"

#include <httplib.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>

namespace kiln::loadgen {
namespace {

using json = nlohmann::ordered_json;

json parameters_to_json(const google::protobuf::Map<std::string, inference::InferParameter>& parameters) {
  json out = json::object();
  for (const auto& [key, value] : parameters) {
    switch (value.parameter_choice_case()) {
      case inference::InferParameter::kBoolParam: out[key] = value.bool_param(); break;
      case inference::InferParameter::kInt64Param: out[key] = value.int64_param(); break;
      case inference::InferParameter::kStringParam: out[key] = value.string_param(); break;
      default: break;  // kiln-loadgen sets no other kind
    }
  }
  return out;
}

}  // namespace

struct HttpInferClient::State {
  std::unique_ptr<httplib::Client> client;
  std::string path;
  std::string body;
  httplib::Headers headers;
};

HttpInferClient::HttpInferClient(std::unique_ptr<State> state) : state_(std::move(state)) {}
HttpInferClient::~HttpInferClient() = default;

Expected<std::unique_ptr<HttpInferClient>> HttpInferClient::create(const std::string& url,
                                                                   const inference::ModelInferRequest& request,
                                                                   const inference::ModelMetadataResponse& metadata) {
  const size_t colon = url.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == url.size()) {
    return invalid_argument("HTTP endpoint '" + url + "' is not host:port");
  }
  int port = 0;
  try {
    port = std::stoi(url.substr(colon + 1));
  } catch (const std::exception&) {
    return invalid_argument("HTTP endpoint '" + url + "': '" + url.substr(colon + 1) + "' is not a port");
  }
  auto state = std::make_unique<State>();
  state->client = std::make_unique<httplib::Client>(url.substr(0, colon), port);
  state->client->set_keep_alive(true);
  // The request goes out as two writes (headers, then body): without NODELAY,
  // Nagle holds the second until the server acknowledges the first.
  state->client->set_tcp_nodelay(true);
  state->client->set_read_timeout(600, 0);
  state->client->set_write_timeout(600, 0);
  state->path = "/v2/models/" + request.model_name() + "/infer";

  json header = {{"inputs", json::array()}, {"outputs", json::array()}};
  const bool raw = request.raw_input_contents_size() > 0;
  std::string tensors;
  for (int i = 0; i < request.inputs_size(); ++i) {
    const auto& input = request.inputs(i);
    json tensor = {{"name", input.name()},
                   {"shape", std::vector<int64_t>(input.shape().begin(), input.shape().end())},
                   {"datatype", input.datatype()},
                   {"parameters", parameters_to_json(input.parameters())}};
    if (raw) {
      tensor["parameters"]["binary_data_size"] = request.raw_input_contents(i).size();
      tensors += request.raw_input_contents(i);
    }
    header["inputs"].push_back(std::move(tensor));
  }
  if (request.outputs_size() > 0) {
    for (const auto& output : request.outputs()) {
      header["outputs"].push_back({{"name", output.name()}, {"parameters", parameters_to_json(output.parameters())}});
    }
  } else {
    for (const auto& output : metadata.outputs()) {
      header["outputs"].push_back({{"name", output.name()}, {"parameters", {{"binary_data", true}}}});
    }
  }
  const std::string text = header.dump();
  state->body = text + tensors;
  state->headers = {{"Inference-Header-Content-Length", std::to_string(text.size())}};
  return std::unique_ptr<HttpInferClient>(new HttpInferClient(std::move(state)));
}

Status HttpInferClient::infer() {
  State& s = *state_;
  httplib::Result result = s.client->Post(s.path, s.headers, s.body, "application/octet-stream");
  if (!result) return unavailable("HTTP infer: " + httplib::to_string(result.error()));
  if (result->status != 200) {
    return internal_error("HTTP infer: status " + std::to_string(result->status) + ": " + result->body.substr(0, 300));
  }
  return ok_status();
}

}  // namespace kiln::loadgen
