// What the gateway does with request bodies, on the inputs its fuzz targets found wrong
// (fuzz/regressions/gateway_json_fuzz/): each is answered as the API's 4xx error naming the
// problem, never as an exception that reaches the client as a 500 "internal error".
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "gateway/api_error.h"
#include "gateway/model_names.h"
#include "gateway/routes.h"
#include "gateway/text_model.h"

namespace dsv4::gateway {
namespace {

const std::string kRegressions = std::string(DSV4_SOURCE_DIR) + "/fuzz/regressions/gateway_json_fuzz";
constexpr const char* kRoutes[] = {"/v1/chat/completions", "/v1/completions", "/v1/messages"};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const ApiContext& Context() {
  static const TextModel model = TextModel::Load(std::string(DSV4_SHARED_DIR) + "/models/flash-0731",
                                                 std::string(DSV4_SHARED_DIR) + "/models/tokenizer.json");
  static const ModelNames names;
  static const ApiContext ctx{model, names};
  return ctx;
}

// The ApiError a route answers `body` with (status 0 when it is accepted).
ApiError Refusal(const char* route, const std::string& body) {
  try {
    ParseApiRequest(route, body, Context());
  } catch (const ApiError& e) {
    return e;
  }
  return ApiError(ErrorKind::kInternal, "accepted");
}

TEST(GatewayRequestParsing, every_fuzz_regression_is_a_client_error_or_accepted) {
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(kRegressions)) {
    const std::string body = ReadFile(entry.path());
    ++files;
    for (const char* route : kRoutes) {
      SCOPED_TRACE(std::string(route) + " " + entry.path().filename().string());
      // Anything but ApiError escapes here and fails the test, as it would reach the client as 500.
      const ApiError e = Refusal(route, body);
      if (std::string(e.what()) != "accepted") {
        EXPECT_GE(e.Status(), 400);
        EXPECT_LT(e.Status(), 500) << e.what();
      }
    }
  }
  EXPECT_GE(files, 1u) << "no regression inputs in " << kRegressions;
}

// A number past double's range is a JSON error of the client's (nlohmann throws out_of_range,
// not parse_error, for it).
TEST(GatewayRequestParsing, number_past_double_range_is_invalid_json) {
  const std::string body = ReadFile(kRegressions + "/number-past-double-range");
  ASSERT_NE(body.find("2E427"), std::string::npos);
  for (const char* route : kRoutes) {
    const ApiError e = Refusal(route, body);
    EXPECT_EQ(e.Status(), 400) << route;
    EXPECT_NE(std::string(e.what()).find("the request body is not valid JSON"), std::string::npos) << route << ": " << e.what();
    EXPECT_NE(std::string(e.what()).find("2E427"), std::string::npos) << route << ": " << e.what();
  }
}

}  // namespace
}  // namespace dsv4::gateway
