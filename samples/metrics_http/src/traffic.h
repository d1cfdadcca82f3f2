/* SPDX-License-Identifier: Apache-2.0 */
#ifndef METRICS_HTTP_TRAFFIC_H
#define METRICS_HTTP_TRAFFIC_H

#include <msg_pool.h>

#define TRAFFIC_TARGETS 3

/** The modules' targets, for pool_stats_json(). */
extern msg_target_t *const traffic_targets[TRAFFIC_TARGETS];

/** Initialises the targets and starts the producer and module threads. */
int traffic_start(void);

/** Errors seen by the traffic threads (must stay 0). */
long traffic_errors(void);

#endif
