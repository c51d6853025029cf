#include "guest/agent/probed_resource.hpp"

namespace pcloud::guest {

namespace {

std::string millis(std::chrono::steady_clock::duration d) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  return std::to_string(ms) + "ms";
}

} // namespace

probed_resource::probed_resource(
  event_loop& loop, wire::resource_definition def, reporter report,
  probe_reporter probe_report,
  const std::function<std::unique_ptr<managed_resource>(reporter)>& make_inner)
    : managed_resource(loop, std::move(def), std::move(report)),
      probe_report_(std::move(probe_report)), check_(loop, def_.probe),
      next_check_(loop) {
  inner_ = make_inner(
    [this](const std::string& condition, const std::string& cause) {
      on_inner(condition, cause);
    });
}

probed_resource::~probed_resource() {
  halt_probing();
}

void probed_resource::on_inner(const std::string& condition,
                               const std::string& cause) {
  if (condition == "running") {
    switch (phase_) {
    case phase::idle:
      phase_ = phase::starting;
      inner_cause_ = cause;
      begin_probing();
      break;
    case phase::ready:
      report_("running", ready_cause_);
      break;
    case phase::starting:
    case phase::killing:
      break; // the probe decides
    }
    return;
  }
  auto was = phase_;
  halt_probing();
  phase_ = phase::idle;
  if (was == phase::killing) {
    // Our own kill: the failure is the probe's, not the class's. One that
    // never became ready is a start that did not work.
    report_(killed_ready_ ? "failed" : "start_failed", kill_cause_);
  } else if (was == phase::starting && condition == "failed") {
    // Gone before it was ever ready: the (re)start did not work. The host
    // waits for the result of its restart and takes this one as it.
    report_("start_failed", "exited before it was ready: " + cause);
  } else {
    report_(condition, cause);
  }
}

void probed_resource::begin_probing() {
  failures_ = 0;
  told_failing_ = false;
  told_once_ = false;
  running_since_ = loop_.now();
  auto delay = std::chrono::milliseconds{def_.probe.initial_delay_ms};
  counts_from_ = running_since_ + delay;
  retry_ = first_retry;
  next_check_.set(delay, [this] { run_check(); });
}

void probed_resource::run_check() {
  if (phase_ == phase::ready) {
    // Timeouts are below the interval, so a check ends before the next one.
    next_check_.set(interval(), [this] { run_check(); });
  }
  // Before readiness, on_check sets the next check when this one is done.
  check_.run(
    [this](bool ok, const std::string& detail) { on_check(ok, detail); });
}

void probed_resource::retry_soon() {
  // Until it is ready the service is looked at again soon, each wait twice
  // the last, up to the interval: ACTIVE follows its first answer by
  // milliseconds rather than by up to an interval.
  auto wait = std::min(retry_, interval());
  retry_ *= 2;
  next_check_.set(wait, [this] { run_check(); });
}

void probed_resource::on_check(bool ok, const std::string& detail) {
  if (phase_ != phase::starting && phase_ != phase::ready) {
    return;
  }
  if (ok) {
    failures_ = 0;
    if (told_failing_ || !told_once_) {
      probe_report_({def_.name, true, 0, detail});
    }
    told_failing_ = false;
    told_once_ = true;
    if (phase_ == phase::starting) {
      phase_ = phase::ready;
      ready_cause_ = inner_cause_ + ", ready in "
                     + millis(loop_.now() - running_since_) + " ("
                     + health_check::describe(def_.probe) + ": " + detail + ")";
      next_check_.set(interval(), [this] { run_check(); });
      report_("running", ready_cause_);
    }
    return;
  }
  if (phase_ == phase::starting) {
    // The quick checks before readiness count once an interval, as the
    // checks after it do: "3 failures" means three intervals either way.
    if (loop_.now() < counts_from_) {
      retry_soon();
      return;
    }
    counts_from_ += interval();
  }
  ++failures_;
  probe_report_({def_.name, false, failures_, detail});
  told_failing_ = true;
  told_once_ = true;
  if (failures_ < def_.probe.failures) {
    if (phase_ == phase::starting) {
      retry_soon();
    }
    return;
  }
  killed_ready_ = phase_ == phase::ready;
  kill_cause_ = std::string{killed_ready_ ? "hung" : "never ready"} + ": "
                + health_check::describe(def_.probe) + " failed "
                + std::to_string(failures_) + " times (" + detail + ")";
  halt_probing();
  phase_ = phase::killing;
  inner_->kill();
}

void probed_resource::halt_probing() {
  next_check_.cancel();
  check_.cancel();
}

void probed_resource::probe() {
  inner_->probe();
}

void probed_resource::start() {
  inner_->start();
}

void probed_resource::stop() {
  halt_probing();
  phase_ = phase::idle;
  inner_->stop();
}

void probed_resource::restart() {
  halt_probing();
  phase_ = phase::idle;
  inner_->restart();
}

void probed_resource::monitor() {
  inner_->monitor();
}

void probed_resource::report_again() {
  // Starting or being killed: the probe's verdict is the next report.
  if (phase_ == phase::idle || phase_ == phase::ready) {
    inner_->report_again();
  }
}

void probed_resource::kill() {
  halt_probing();
  phase_ = phase::idle;
  inner_->kill();
}

bool probed_resource::idle() const {
  return inner_->idle() && !check_.running();
}

} // namespace pcloud::guest
