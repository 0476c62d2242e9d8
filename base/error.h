// The one exception type the core throws for bad input (config, checkpoint, request). Its
// message is meant for the operator: it names the file / tensor / field, the value found and
// what was expected. Callers at process boundaries catch it and keep serving.
#pragma once

#include <stdexcept>
#include <string>

namespace dsv4 {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace dsv4
