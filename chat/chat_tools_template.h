// The fixed text around the tool schemas in a V4 prompt's tools block (spec §8.3), generated
// from DeepSeek's own rendered example by scripts/gen-chat-templates.py.
#pragma once

namespace dsv4::chat_template {

extern const char kToolsBlockHead[];  // "## Tools\n\n..." up to the first schema line
extern const char kToolsBlockTail[];  // after the last schema line, through the closing sentence

}  // namespace dsv4::chat_template
