#include "board.h"

#include "adc.h"
#include "stm32f2.h"

/* The catalytic or electrochemical head's warm-up after power-up, seconds. */
#ifndef PG_NODE_WARMUP_S
#define PG_NODE_WARMUP_S 30
#endif

/* Bounded waits for the oscillators: a crystal that does not start must not stop the
 * node at boot; it runs from the internal oscillator instead. */
#define OSC_WAIT_LOOPS 100000u

static bool wait_set(volatile uint32_t *reg, uint32_t mask, uint32_t want)
{
    for (uint32_t i = 0; i < OSC_WAIT_LOOPS; i++) {
        if ((*reg & mask) == want)
            return true;
    }
    return false;
}

/*
 * 120 MHz from the PLL: VCO input 1 MHz (HSE 25 MHz / 25, or HSI 16 MHz / 16), VCO
 * 240 MHz, SYSCLK = VCO / 2, the 48 MHz domain = VCO / 5. AHB 120 MHz, APB1 30 MHz
 * (timers 60 MHz), APB2 60 MHz. Three flash wait states at 120 MHz and 2.7-3.6 V
 * (RM0033 Table 3).
 */
static void clocks_init(struct board_info *info)
{
    uint32_t pll;

    RCC_CR |= RCC_CR_HSEON;
    if (wait_set(&RCC_CR, RCC_CR_HSERDY, RCC_CR_HSERDY))
        pll = RCC_PLLCFGR_HSE | 25u;
    else
        pll = 16u;
    RCC_PLLCFGR = pll | (240u << 6) | (0u << 16) | (5u << 24);
    RCC_CR |= RCC_CR_PLLON;
    if (!wait_set(&RCC_CR, RCC_CR_PLLRDY, RCC_CR_PLLRDY)) {
        /* No PLL: stay on the 16 MHz internal oscillator, every bus undivided. */
        info->hclk_hz = 16000000u;
        info->pclk2_hz = 16000000u;
        info->timclk_hz = 16000000u;
        return;
    }
    FLASH_ACR = FLASH_ACR_PRFTEN | FLASH_ACR_ICEN | FLASH_ACR_DCEN | 3u;
    /* HPRE /1, PPRE1 /4, PPRE2 /2, then switch to the PLL. */
    RCC_CFGR = (5u << 10) | (4u << 13) | RCC_CFGR_SW_PLL;
    (void)wait_set(&RCC_CFGR, RCC_CFGR_SWS, RCC_CFGR_SWS_PLL);
    info->hclk_hz = 120000000u;
    info->pclk2_hz = 60000000u;
    info->timclk_hz = 60000000u; /* APB1 prescaled, so its timers run at 2 x PCLK1 */
}

static void pins_init(void)
{
    RCC_AHB1ENR |= RCC_AHB1_GPIOA;
    /* PA0 analog; PA8 output (DE/RE, low = listen); PA9, PA10 alternate function 7. */
    GPIOA_BSRR = 1u << (8 + 16);
    GPIOA_MODER = (GPIOA_MODER & ~((3u << 0) | (3u << 16) | (3u << 18) | (3u << 20))) |
                  (3u << 0) | (1u << 16) | (2u << 18) | (2u << 20);
    GPIOA_OSPEEDR |= (2u << 16) | (2u << 18);
    GPIOA_PUPDR = (GPIOA_PUPDR & ~(3u << 20)) | (1u << 20); /* RX idles high */
    GPIOA_AFRH = (GPIOA_AFRH & ~((0xFu << 4) | (0xFu << 8))) | (7u << 4) | (7u << 8);
}

void board_init(struct board_info *info)
{
    clocks_init(info);
    info->warmup_s = PG_NODE_WARMUP_S;
    pins_init();
    adc_init();
}

void board_rs485_drive(bool drive)
{
    GPIOA_BSRR = drive ? (1u << 8) : (1u << (8 + 16));
}

int32_t board_sample(uint32_t now_ms)
{
    (void)now_ms;
    return adc_read();
}

/*
 * The independent watchdog runs from the ~32 kHz LSI: /32 gives about 1 kHz, and a
 * reload of 1000 about one second (0.7 to 1.9 s across the LSI's tolerance). The main
 * loop feeds it every pass, and the UART once per character it sends, so that only a
 * loop that has stopped running lets it bite.
 */
void board_watchdog_start(void)
{
    IWDG_KR = 0xCCCCu; /* start */
    IWDG_KR = 0x5555u; /* unlock PR and RLR */
    IWDG_PR = 3u;
    IWDG_RLR = 1000u;
    IWDG_KR = 0xAAAAu;
}

void board_watchdog_kick(void)
{
    IWDG_KR = 0xAAAAu;
}
