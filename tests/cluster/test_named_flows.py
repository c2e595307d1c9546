"""The flows the cluster must carry, each the same test that runs on a single Redis, here against the
three-master cluster of this folder's conftest: the engine's race, the screens' resume across
instances, the persister's take-over and catch-up after a killed server, how far behind the record
is, the map's live figures, and the reviews' flow."""
from __future__ import annotations

from tests.engine.test_race import test_fifty_windows_race_over_ten_thousand_tickets  # noqa: F401
from tests.evaluation.test_sms import test_prompt_after_the_delay_and_a_reply_recorded_once  # noqa: F401
from tests.network.test_map_read import test_each_center_and_point_gets_its_own_figures_across_the_calls  # noqa: F401
from tests.realtime.test_resume import (test_reconnect_with_cursor_gets_exactly_the_missed_events,  # noqa: F401
                                        test_resume_across_a_restart_and_across_instances)
from tests.record.test_lag import (test_each_center_gets_its_own_figures_across_the_calls,  # noqa: F401
                                   test_lag_is_exact_however_far_behind_the_record_is)
from tests.record.test_persister import (test_a_consumer_dead_mid_batch_is_taken_over,  # noqa: F401
                                         test_a_killed_server_process_loses_no_event)
