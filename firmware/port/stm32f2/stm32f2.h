/*
 * stm32f2: the few STM32F205 and Cortex-M3 registers the node uses, from the STM32F20x
 * reference manual (RM0033 rev 9) and the Cortex-M3 technical reference. No vendor SDK:
 * a register is a volatile 32-bit word at a fixed address, named as in the manual.
 */
#ifndef PG_STM32F2_H
#define PG_STM32F2_H

#include <stdint.h>

#define STM32_REG(addr) (*(volatile uint32_t *)(addr))

/* RCC, RM0033 §5.3. */
#define RCC_BASE         0x40023800u
#define RCC_CR           STM32_REG(RCC_BASE + 0x00)
#define RCC_PLLCFGR      STM32_REG(RCC_BASE + 0x04)
#define RCC_CFGR         STM32_REG(RCC_BASE + 0x08)
#define RCC_AHB1ENR      STM32_REG(RCC_BASE + 0x30)
#define RCC_APB1ENR      STM32_REG(RCC_BASE + 0x40)
#define RCC_APB2ENR      STM32_REG(RCC_BASE + 0x44)
#define RCC_CR_HSION     (1u << 0)
#define RCC_CR_HSIRDY    (1u << 1)
#define RCC_CR_HSEON     (1u << 16)
#define RCC_CR_HSERDY    (1u << 17)
#define RCC_CR_PLLON     (1u << 24)
#define RCC_CR_PLLRDY    (1u << 25)
#define RCC_PLLCFGR_HSE  (1u << 22)
#define RCC_CFGR_SW_PLL  2u
#define RCC_CFGR_SWS_PLL (2u << 2)
#define RCC_CFGR_SWS     (3u << 2)
#define RCC_AHB1_GPIOA   (1u << 0)
#define RCC_APB1_TIM2    (1u << 0)
#define RCC_APB2_USART1  (1u << 4)
#define RCC_APB2_ADC1    (1u << 8)

/* Flash interface, RM0033 §2.8. */
#define FLASH_ACR        STM32_REG(0x40023C00u)
#define FLASH_ACR_PRFTEN (1u << 8)
#define FLASH_ACR_ICEN   (1u << 9)
#define FLASH_ACR_DCEN   (1u << 10)

/* GPIO port A, RM0033 §6.4. */
#define GPIOA_BASE    0x40020000u
#define GPIOA_MODER   STM32_REG(GPIOA_BASE + 0x00)
#define GPIOA_OTYPER  STM32_REG(GPIOA_BASE + 0x04)
#define GPIOA_OSPEEDR STM32_REG(GPIOA_BASE + 0x08)
#define GPIOA_PUPDR   STM32_REG(GPIOA_BASE + 0x0C)
#define GPIOA_BSRR    STM32_REG(GPIOA_BASE + 0x18)
#define GPIOA_AFRH    STM32_REG(GPIOA_BASE + 0x24)

/* USART1, RM0033 §24.6. */
#define USART1_BASE      0x40011000u
#define USART1_SR        STM32_REG(USART1_BASE + 0x00)
#define USART1_DR        STM32_REG(USART1_BASE + 0x04)
#define USART1_BRR       STM32_REG(USART1_BASE + 0x08)
#define USART1_CR1       STM32_REG(USART1_BASE + 0x0C)
#define USART1_CR2       STM32_REG(USART1_BASE + 0x10)
#define USART1_CR3       STM32_REG(USART1_BASE + 0x14)
#define USART_SR_PE      (1u << 0)
#define USART_SR_FE      (1u << 1)
#define USART_SR_NF      (1u << 2)
#define USART_SR_ORE     (1u << 3)
#define USART_SR_RXNE    (1u << 5)
#define USART_SR_TC      (1u << 6)
#define USART_SR_TXE     (1u << 7)
#define USART_CR1_RE     (1u << 2)
#define USART_CR1_TE     (1u << 3)
#define USART_CR1_RXNEIE (1u << 5)
#define USART_CR1_PS     (1u << 9)
#define USART_CR1_PCE    (1u << 10)
#define USART_CR1_M      (1u << 12)
#define USART_CR1_UE     (1u << 13)

/* TIM2 (32-bit general-purpose timer), RM0033 §14.4. */
#define TIM2_BASE    0x40000000u
#define TIM2_CR1     STM32_REG(TIM2_BASE + 0x00)
#define TIM2_DIER    STM32_REG(TIM2_BASE + 0x0C)
#define TIM2_SR      STM32_REG(TIM2_BASE + 0x10)
#define TIM2_EGR     STM32_REG(TIM2_BASE + 0x14)
#define TIM2_CNT     STM32_REG(TIM2_BASE + 0x24)
#define TIM2_PSC     STM32_REG(TIM2_BASE + 0x28)
#define TIM2_ARR     STM32_REG(TIM2_BASE + 0x2C)
#define TIM_CR1_CEN  (1u << 0)
#define TIM_DIER_UIE (1u << 0)
#define TIM_SR_UIF   (1u << 0)
#define TIM_EGR_UG   (1u << 0)

/* ADC1, RM0033 §10.13. */
#define ADC1_BASE       0x40012000u
#define ADC1_SR         STM32_REG(ADC1_BASE + 0x00)
#define ADC1_CR1        STM32_REG(ADC1_BASE + 0x04)
#define ADC1_CR2        STM32_REG(ADC1_BASE + 0x08)
#define ADC1_SMPR2      STM32_REG(ADC1_BASE + 0x10)
#define ADC1_SQR1       STM32_REG(ADC1_BASE + 0x2C)
#define ADC1_SQR3       STM32_REG(ADC1_BASE + 0x34)
#define ADC1_DR         STM32_REG(ADC1_BASE + 0x4C)
#define ADC_CCR         STM32_REG(0x40012304u)
#define ADC_SR_EOC      (1u << 1)
#define ADC_CR2_ADON    (1u << 0)
#define ADC_CR2_SWSTART (1u << 30)

/* Independent watchdog, RM0033 §17.4. */
#define IWDG_KR  STM32_REG(0x40003000u)
#define IWDG_PR  STM32_REG(0x40003004u)
#define IWDG_RLR STM32_REG(0x40003008u)

/* Cortex-M3 system control space. */
#define SYST_CSR           STM32_REG(0xE000E010u)
#define SYST_RVR           STM32_REG(0xE000E014u)
#define SYST_CVR           STM32_REG(0xE000E018u)
#define SYST_CSR_ENABLE    (1u << 0)
#define SYST_CSR_TICKINT   (1u << 1)
#define SYST_CSR_CLKSRC    (1u << 2)
#define NVIC_ISER(n)       STM32_REG(0xE000E100u + 4u * (n))
#define NVIC_IPR_BYTE(irq) (*(volatile uint8_t *)(0xE000E400u + (irq)))
#define SCB_ICSR           STM32_REG(0xE000ED04u)
#define SCB_AIRCR          STM32_REG(0xE000ED0Cu)
#define SCB_SHPR3          STM32_REG(0xE000ED20u)
#define SCB_ICSR_PENDSTSET (1u << 26)
#define SCB_AIRCR_RESET    ((0x05FAu << 16) | (1u << 2))

/* Interrupt numbers, RM0033 Table 20. */
#define IRQ_TIM2   28
#define IRQ_USART1 37

static inline void nvic_enable(unsigned irq, uint8_t priority)
{
    NVIC_IPR_BYTE(irq) = priority;
    NVIC_ISER(irq / 32u) = 1u << (irq % 32u);
}

static inline void irq_disable(void)
{
    __asm volatile("cpsid i" ::: "memory");
}

static inline void irq_enable(void)
{
    __asm volatile("cpsie i" ::: "memory");
}

static inline void wait_for_interrupt(void)
{
    __asm volatile("wfi" ::: "memory");
}

#endif
