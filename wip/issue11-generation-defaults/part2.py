import shutil,re
W='/work/wt-issue11/'
def edit(p, old, new, count=1):
    s=open(W+p).read()
    assert old in s, (p, old[:60])
    s=s.replace(old,new,count)
    open(W+p,'w').write(s)
for f in ['generation_config.h','generation_config.cpp']:
    shutil.copy('/work/tmp/i11/stage/model/'+f, W+'model/'+f)
edit('model/CMakeLists.txt','  config.cpp\n','  config.cpp\n  generation_config.cpp\n')
edit('model/model.h','#include "model/config.h"\n','#include "model/config.h"\n#include "model/generation_config.h"\n')
edit('model/model.h','''  const ModelConfig& config() const { return config_; }''','''  const ModelConfig& config() const { return config_; }
  // Sampling for a request that names none: the checkpoint's generation_config.json, or greedy.
  const GenerationDefaults& generation_defaults() const { return generation_defaults_; }''')
edit('model/model.h','''  ModelConfig config_;''','''  ModelConfig config_;
  GenerationDefaults generation_defaults_;''')
edit('model/model.cpp','''  m->config_ = load_config(dir);''','''  m->config_ = load_config(dir);
  m->generation_defaults_ = load_generation_defaults(dir);''')
# scheduler
edit('worker/scheduler.h','''  std::string tier = "flash";
};''','''  std::string tier = "flash";
  // Sampling for a request that names no temperature / top_p (the checkpoint's
  // generation_config.json; greedy without one).
  double default_temperature = 0.0;
  double default_top_p = 1.0;
};''')
edit('worker/scheduler.cpp','''SamplingParams{static_cast<float>(w.req.temperature.value_or(0.0)), static_cast<float>(w.req.top_p.value_or(1.0)), w.req.seed}''','''SamplingParams{static_cast<float>(w.req.temperature.value_or(cfg_.default_temperature)),
                     static_cast<float>(w.req.top_p.value_or(cfg_.default_top_p)), w.req.seed}''')
# wire: WorkerInfo and WorkerStatus carry the defaults
edit('wire/worker_messages.h','''  int64_t max_context = 0;     // max_position_embeddings
  bool echo = false;''','''  int64_t max_context = 0;     // max_position_embeddings
  bool echo = false;
  double default_temperature = 0.0;  // sampling when a request names none (generation_config.json)
  double default_top_p = 1.0;''')
edit('wire/worker_messages.cpp','''      .Field("echo", w.echo)
      .Finish();''','''      .Field("echo", w.echo)
      .Field("default_temperature", w.default_temperature)
      .Field("default_top_p", w.default_top_p)
      .Finish();''')
edit('wire/worker_messages.cpp','''  w.echo = m.BoolOr("echo", false);
  return w;''','''  w.echo = m.BoolOr("echo", false);
  w.default_temperature = m.NumberOr("default_temperature", 0.0);
  w.default_top_p = m.NumberOr("default_top_p", 1.0);
  return w;''')
edit('wire/client_messages.h','''  int64_t max_context = 0;
  bool operator==(const WorkerStatus&) const = default;''','''  int64_t max_context = 0;
  double default_temperature = 0.0;  // the worker's sampling for a request that names none
  double default_top_p = 1.0;
  bool operator==(const WorkerStatus&) const = default;''')
edit('wire/client_messages.cpp','''                     .Field("max_context", w.max_context)
                     .Finish());''','''                     .Field("max_context", w.max_context)
                     .Field("default_temperature", w.default_temperature)
                     .Field("default_top_p", w.default_top_p)
                     .Finish());''')
edit('wire/client_messages.cpp','''    ws.max_context = w.IntOr("max_context", 0);
    s.workers.push_back(std::move(ws));''','''    ws.max_context = w.IntOr("max_context", 0);
    ws.default_temperature = w.NumberOr("default_temperature", 0.0);
    ws.default_top_p = w.NumberOr("default_top_p", 1.0);
    s.workers.push_back(std::move(ws));''')
edit('router/router.cpp','''                                                   w.info.vocab_size, w.info.max_context});''','''                                                   w.info.vocab_size, w.info.max_context, w.info.default_temperature,
                                                   w.info.default_top_p});''')
edit('tools/dsv4ctl_main.cpp','''                  << "  draining=" << yes_no(w.draining) << "  echo=" << yes_no(w.echo) << "\\n";''','''                  << "  draining=" << yes_no(w.draining) << "  echo=" << yes_no(w.echo)
                  << "  default_sampling=temperature:" << w.default_temperature << ",top_p:" << w.default_top_p << "\\n";''')
# worker main: defaults from the model
edit('worker/worker_main.cpp','''      progress.Loaded(*model);''','''      progress.Loaded(*model);
      sched.default_temperature = model->generation_defaults().temperature;
      sched.default_top_p = model->generation_defaults().top_p;''')
edit('worker/worker_main.cpp','''    link.info.worker_id = worker_id.empty()''','''    link.info.default_temperature = sched.default_temperature;
    link.info.default_top_p = sched.default_top_p;
    link.info.worker_id = worker_id.empty()''')
edit('worker/load_progress.cpp','''  SetState("serving");''','''  const GenerationDefaults& g = m.generation_defaults();
  std::fprintf(stderr, "I: sampling for requests that name none: temperature %g, top_p %g (%s)\\n", g.temperature, g.top_p,
               g.source.empty() ? "no generation_config.json: greedy" : g.source.c_str());
  SetState("serving");''')
shutil.copy('/work/tmp/i11/stage/tests/service_sampling_test.cpp', W+'tests/integration/service_sampling_test.cpp')
edit('tests/integration/CMakeLists.txt','dsv4_service_test(service_metrics_test)\n','dsv4_service_test(service_metrics_test)\ndsv4_service_test(service_sampling_test)\n')
s=open(W+'tests/unit/config_test.cpp').read()
s=s.rstrip('\n')+'\n'+open('/work/tmp/i11/stage/tests/gen_unit.txt').read()
s=s.replace('#include "model/config.h"\n','#include "model/config.h"\n#include "model/generation_config.h"\n',1)
open(W+'tests/unit/config_test.cpp','w').write(s)
