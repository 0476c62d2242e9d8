// The two flags every router client tool takes (dsv4 submit, dsv4ctl), written once.
#pragma once

#include <boost/program_options.hpp>

#include <string>

#include "wire/curve_keys.h"

namespace dsv4 {

struct ClientKeyFlags {
  std::string key_file, router_key_file;

  // Adds both flags: keys.Add(flags.Add()).
  void Add(boost::program_options::options_description_easy_init add) {
    add("key", boost::program_options::value(&key_file),
        "this client's CurveZMQ key pair (dsv4ctl keygen; its public key must be on the router's allow-list)")(
        "router-key", boost::program_options::value(&router_key_file), "the router's public key file (router.pub)");
  }
  curve::ClientKeys Load() const { return curve::LoadClientKeys(key_file, router_key_file); }
  // Said when the router stays silent: without keys only an --insecure router answers.
  std::string SilenceHint() const {
    return key_file.empty() ? " (no --key/--router-key given: only an --insecure router answers a client without keys)"
                            : " (is this key on the router's allow-list, and --router-key the router's?)";
  }
};

}  // namespace dsv4
