/*
 * io_lidar.c: the LIDAR UART bridge (firmware: main/plugins/io_lidar.c). Its RX thread sends
 * what the LIDAR streams, 1 KiB chunks, from the streaming pool to TARGET_LIDAR_COORD and
 * TARGET_SSE_LIDAR as fast as it can; its TX thread receives the motor commands addressed to
 * TARGET_LIDAR_IO from its pointer queue (dispatcher_ptr_queue_create_register) and "writes"
 * them to the UART.
 *
 * Here there is no UART: the RX thread makes counter-pattern chunks (firmware.h) at the lowest
 * priority, so it uses all the CPU the other modules leave. When the streaming pool is empty
 * the chunk is dropped (counted) and the thread sleeps 1 ms; after 64 chunks in a row it also
 * sleeps 1 ms (on native_sim a thread that never sleeps would stop simulated time).
 *
 * Dispatcher calls as in the firmware; OS calls are Zephyr's (k_msgq_get for xQueueReceive,
 * k_thread_create for xTaskCreate, LOG_* for ESP_LOG*).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <zephyr/kernel.h>
#include <zephyr/logging/log.h>

#include "dispatcher.h"
#include "dispatcher_module.h"
#include "dispatcher_pool.h"
#include "firmware.h"
#include "io_lidar.h"

LOG_MODULE_REGISTER(io_lidar, LOG_LEVEL_INF);

#define LIDAR_RX_PRIO 10 /* the lowest of the sample: a flood that yields to everything */
#define LIDAR_TX_PRIO 5
#define LIDAR_BURST   64

static struct k_msgq *uart_tx_ptr_queue;

K_THREAD_STACK_DEFINE(lidar_rx_stack, FW_THREAD_STACK);
K_THREAD_STACK_DEFINE(lidar_tx_stack, FW_THREAD_STACK);
static struct k_thread lidar_rx_thread;
static struct k_thread lidar_tx_thread;

static struct lidar_counters cnt;
/* The chunk being built (the firmware's tmp_buf[BUF_SIZE], off the 1 KiB stack here). */
static uint8_t tmp_buf[BUF_SIZE];

static void io_lidar_event_task(void *a, void *b, void *c);
static void io_lidar_tx_task(void *a, void *b, void *c);

void io_lidar_init(void)
{
	/* Register pointer queue with dispatcher */
	uart_tx_ptr_queue = dispatcher_ptr_queue_create_register(TARGET_LIDAR_IO, FW_LIDAR_QUEUE_LEN);
	if (!uart_tx_ptr_queue) {
		LOG_ERR("Failed to create pointer queue for LIDAR TX");
		return;
	}
	/* Start TX task */
	k_thread_create(&lidar_tx_thread, lidar_tx_stack, K_THREAD_STACK_SIZEOF(lidar_tx_stack),
			io_lidar_tx_task, NULL, NULL, NULL, LIDAR_TX_PRIO, 0, K_NO_WAIT);
	k_thread_name_set(&lidar_tx_thread, "io_lidar_tx_task");
	/* Start RX event task */
	k_thread_create(&lidar_rx_thread, lidar_rx_stack, K_THREAD_STACK_SIZEOF(lidar_rx_stack),
			io_lidar_event_task, NULL, NULL, NULL, LIDAR_RX_PRIO, 0, K_NO_WAIT);
	k_thread_name_set(&lidar_rx_thread, "io_lidar_event_task");
}

/* RX task: "receives data FROM UART" and sends it INTO dispatcher */
static void io_lidar_event_task(void *a, void *b, void *c)
{
	ARG_UNUSED(a);
	ARG_UNUSED(b);
	ARG_UNUSED(c);
	uint32_t seq = 0;
	uint32_t burst = 0;

	while (fw_is_running()) {
		lidar_chunk_fill(tmp_buf, seq);

		dispatch_target_t targets[TARGET_MAX];
		dispatcher_fill_targets(targets);
		targets[0] = TARGET_LIDAR_COORD; /* UART -> LIDAR_COORD bridge */
		targets[1] = TARGET_SSE_LIDAR;   /* and the web page's live view */
		dispatcher_pool_send_params_t params = {
			.type = DISPATCHER_POOL_STREAMING,
			.source = SOURCE_LIDAR_IO,
			.targets = targets,
			.data = tmp_buf,
			.data_len = LIDAR_CHUNK_LEN,
			.context = NULL,
		};
		if (dispatcher_pool_send_ptr_params(&params) == NULL) {
			cnt.chunks_dropped++;
			burst = 0;
			k_msleep(1);
			continue;
		}
		cnt.chunks_sent++;
		seq++;
		if (++burst >= LIDAR_BURST) {
			burst = 0;
			k_msleep(1);
		}
	}
}

/* TX task: sends data OUT over UART */
static void io_lidar_tx_task(void *a, void *b, void *c)
{
	ARG_UNUSED(a);
	ARG_UNUSED(b);
	ARG_UNUSED(c);

	while (1) {
		pool_msg_t *pmsg = NULL;

		if (k_msgq_get(uart_tx_ptr_queue, &pmsg, K_FOREVER) == 0) {
			const dispatcher_msg_ptr_t *msg = dispatcher_pool_get_msg_const(pmsg);

			if (msg && msg->data && msg->message_len == LIDAR_MOTOR_CMD_LEN &&
			    msg->data[0] == LIDAR_MOTOR_CMD_PWM) {
				/* uart_write_bytes(msg->data, msg->message_len) on the board */
				cnt.motor_cmds++;
			} else {
				cnt.bad_cmds++;
			}
			dispatcher_pool_msg_unref(pmsg);
		}
	}
}

int io_lidar_join(k_timeout_t timeout)
{
	return k_thread_join(&lidar_rx_thread, timeout);
}

void io_lidar_counters(struct lidar_counters *out)
{
	*out = cnt;
}
