// STM32F4/F7 Ethernet MAC + DMA (Synopsys DWC GMAC 3.x): registers, bits and
// descriptor words, named as RM0410 (F7) / RM0090 (F4) spell them. The one
// place that defines them: the driver core and the model both include it.
// Facts: shared/hw/stm32_eth.md.
#ifndef STM32_ETH_REGS_H
#define STM32_ETH_REGS_H

#include <stdint.h>

#define ETH_BASE            (0x40028000u)   // AHB1 + 0x8000
#define ETH_WINDOW          (0x1400u)

// ---- MAC (offsets from ETH_BASE) -------------------------------------------------
#define ETH_MACCR           (0x0000u)
#define ETH_MACFFR          (0x0004u)
#define ETH_MACHTHR         (0x0008u)
#define ETH_MACHTLR         (0x000Cu)
#define ETH_MACMIIAR        (0x0010u)
#define ETH_MACMIIDR        (0x0014u)
#define ETH_MACFCR          (0x0018u)
#define ETH_MACVLANTR       (0x001Cu)
#define ETH_MACDBGR         (0x0034u)
#define ETH_MACSR           (0x0038u)
#define ETH_MACIMR          (0x003Cu)
#define ETH_MACA0HR         (0x0040u)
#define ETH_MACA0LR         (0x0044u)
#define ETH_MACA1HR         (0x0048u)

#define ETH_MACCR_RE        (1u << 2)
#define ETH_MACCR_TE        (1u << 3)
#define ETH_MACCR_DC        (1u << 4)
#define ETH_MACCR_APCS      (1u << 7)
#define ETH_MACCR_RD        (1u << 9)
#define ETH_MACCR_IPCO      (1u << 10)
#define ETH_MACCR_DM        (1u << 11)
#define ETH_MACCR_LM        (1u << 12)
#define ETH_MACCR_ROD       (1u << 13)
#define ETH_MACCR_FES       (1u << 14)
#define ETH_MACCR_CSD       (1u << 16)
#define ETH_MACCR_JD        (1u << 22)
#define ETH_MACCR_WD        (1u << 23)
#define ETH_MACCR_CSTF      (1u << 25)
#define ETH_MACCR_RESET     (0x00008000u)

#define ETH_MACFFR_PM       (1u << 0)
#define ETH_MACFFR_HU       (1u << 1)
#define ETH_MACFFR_HM       (1u << 2)
#define ETH_MACFFR_DAIF     (1u << 3)
#define ETH_MACFFR_PAM      (1u << 4)
#define ETH_MACFFR_BFD      (1u << 5)
#define ETH_MACFFR_RA       (1u << 31)

#define ETH_MACMIIAR_MB     (1u << 0)
#define ETH_MACMIIAR_MW     (1u << 1)
#define ETH_MACMIIAR_CR_SHIFT (2)
#define ETH_MACMIIAR_CR_MASK  (7u << 2)
#define ETH_MACMIIAR_CR_DIV102 (4u << 2)    // HCLK >= 150 MHz (216 MHz on the F767)
#define ETH_MACMIIAR_MR_SHIFT (6)
#define ETH_MACMIIAR_MR_MASK  (0x1Fu << 6)
#define ETH_MACMIIAR_PA_SHIFT (11)
#define ETH_MACMIIAR_PA_MASK  (0x1Fu << 11)

#define ETH_MACIMR_PMTIM    (1u << 3)
#define ETH_MACIMR_TSTIM    (1u << 9)
#define ETH_MACA0HR_MO      (1u << 31)      // reads 1
#define ETH_MACA0HR_RESET   (0x8000FFFFu)
#define ETH_MACA0LR_RESET   (0xFFFFFFFFu)

// ---- MMC -----------------------------------------------------------------------------
#define ETH_MMCCR           (0x0100u)
#define ETH_MMCTGFCR        (0x0168u)       // transmitted good frames
#define ETH_MMCRFCECR       (0x0194u)       // received frames with CRC error
#define ETH_MMCRFAECR       (0x0198u)       // received frames with alignment error
#define ETH_MMCRGUFCR       (0x01C4u)       // received good unicast frames
#define ETH_MMCCR_CR        (1u << 0)       // counter reset (self-clearing)
#define ETH_MMCCR_ROR       (1u << 2)       // reset on read

// ---- DMA -----------------------------------------------------------------------------
#define ETH_DMABMR          (0x1000u)
#define ETH_DMATPDR         (0x1004u)
#define ETH_DMARPDR         (0x1008u)
#define ETH_DMARDLAR        (0x100Cu)
#define ETH_DMATDLAR        (0x1010u)
#define ETH_DMASR           (0x1014u)
#define ETH_DMAOMR          (0x1018u)
#define ETH_DMAIER          (0x101Cu)
#define ETH_DMAMFBOCR       (0x1020u)
#define ETH_DMARSWTR        (0x1024u)
#define ETH_DMACHTDR        (0x1048u)
#define ETH_DMACHRDR        (0x104Cu)
#define ETH_DMACHTBAR       (0x1050u)
#define ETH_DMACHRBAR       (0x1054u)

#define ETH_DMABMR_SR       (1u << 0)
#define ETH_DMABMR_DA       (1u << 1)
#define ETH_DMABMR_DSL_SHIFT (2)
#define ETH_DMABMR_DSL_MASK (0x1Fu << 2)
#define ETH_DMABMR_EDFE     (1u << 7)
#define ETH_DMABMR_PBL_SHIFT (8)
#define ETH_DMABMR_PBL_MASK (0x3Fu << 8)
#define ETH_DMABMR_FB       (1u << 16)
#define ETH_DMABMR_USP      (1u << 23)
#define ETH_DMABMR_AAB      (1u << 25)
#define ETH_DMABMR_RESET    (0x00020101u)

#define ETH_DMASR_TS        (1u << 0)
#define ETH_DMASR_TPSS      (1u << 1)
#define ETH_DMASR_TBUS      (1u << 2)
#define ETH_DMASR_TJTS      (1u << 3)
#define ETH_DMASR_ROS       (1u << 4)
#define ETH_DMASR_TUS       (1u << 5)
#define ETH_DMASR_RS        (1u << 6)
#define ETH_DMASR_RBUS      (1u << 7)
#define ETH_DMASR_RPSS      (1u << 8)
#define ETH_DMASR_RWTS      (1u << 9)
#define ETH_DMASR_ETS       (1u << 10)
#define ETH_DMASR_FBES      (1u << 13)
#define ETH_DMASR_ERS       (1u << 14)
#define ETH_DMASR_AIS       (1u << 15)
#define ETH_DMASR_NIS       (1u << 16)
#define ETH_DMASR_W1C       (0x0001FFFFu)   // bits 16:0 are write-1-to-clear
#define ETH_DMASR_RPS_SHIFT (17)
#define ETH_DMASR_RPS_MASK  (7u << 17)
#define ETH_DMASR_TPS_SHIFT (20)
#define ETH_DMASR_TPS_MASK  (7u << 20)
#define ETH_DMASR_EBS_SHIFT (23)
#define ETH_DMASR_EBS_MASK  (7u << 23)
#define ETH_DMASR_EBS_TX    (1u << 23)      // error during TX DMA (else RX)
#define ETH_DMASR_EBS_READ  (1u << 24)      // error on a read (else a write)
#define ETH_DMASR_EBS_DESC  (1u << 25)      // error on a descriptor access (else a buffer)
#define ETH_DMASR_MMCS      (1u << 27)
#define ETH_DMASR_PMTS      (1u << 28)
#define ETH_DMASR_TSTS      (1u << 29)
// Sources of the two summaries (each counted only when enabled in DMAIER).
#define ETH_DMASR_NIS_SRC   (ETH_DMASR_TS | ETH_DMASR_TBUS | ETH_DMASR_RS | ETH_DMASR_ERS)
#define ETH_DMASR_AIS_SRC   (ETH_DMASR_TPSS | ETH_DMASR_TJTS | ETH_DMASR_ROS | ETH_DMASR_TUS | \
    ETH_DMASR_RBUS | ETH_DMASR_RPSS | ETH_DMASR_RWTS | ETH_DMASR_ETS | ETH_DMASR_FBES)

// Process states (DMASR.TPS / DMASR.RPS).
#define ETH_TPS_STOPPED     (0u)
#define ETH_TPS_FETCHING    (1u)
#define ETH_TPS_WAITING     (2u)
#define ETH_TPS_READING     (3u)
#define ETH_TPS_SUSPENDED   (6u)
#define ETH_TPS_CLOSING     (7u)
#define ETH_RPS_STOPPED     (0u)
#define ETH_RPS_FETCHING    (1u)
#define ETH_RPS_WAITING     (3u)
#define ETH_RPS_SUSPENDED   (4u)
#define ETH_RPS_CLOSING     (5u)
#define ETH_RPS_TRANSFERRING (7u)

#define ETH_DMAOMR_SR       (1u << 1)
#define ETH_DMAOMR_OSF      (1u << 2)
#define ETH_DMAOMR_FUGF     (1u << 6)
#define ETH_DMAOMR_FEF      (1u << 7)
#define ETH_DMAOMR_ST       (1u << 13)
#define ETH_DMAOMR_FTF      (1u << 20)
#define ETH_DMAOMR_TSF      (1u << 21)
#define ETH_DMAOMR_DFRF     (1u << 24)
#define ETH_DMAOMR_RSF      (1u << 25)
#define ETH_DMAOMR_DTCEFD   (1u << 26)

// DMAIER: the DMASR positions.
#define ETH_DMAIER_TIE      ETH_DMASR_TS
#define ETH_DMAIER_TPSIE    ETH_DMASR_TPSS
#define ETH_DMAIER_TBUIE    ETH_DMASR_TBUS
#define ETH_DMAIER_ROIE     ETH_DMASR_ROS
#define ETH_DMAIER_TUIE     ETH_DMASR_TUS
#define ETH_DMAIER_RIE      ETH_DMASR_RS
#define ETH_DMAIER_RBUIE    ETH_DMASR_RBUS
#define ETH_DMAIER_RPSIE    ETH_DMASR_RPSS
#define ETH_DMAIER_FBEIE    ETH_DMASR_FBES
#define ETH_DMAIER_AISE     ETH_DMASR_AIS
#define ETH_DMAIER_NISE     ETH_DMASR_NIS

#define ETH_DMAMFBOCR_MFC_MASK  (0xFFFFu)
#define ETH_DMAMFBOCR_OMFC      (1u << 16)
#define ETH_DMAMFBOCR_MFA_SHIFT (17)
#define ETH_DMAMFBOCR_MFA_MASK  (0x7FFu << 17)
#define ETH_DMAMFBOCR_OFOC      (1u << 28)

// ---- descriptors -------------------------------------------------------------------
// Normal descriptors are 4 words (16 bytes); with DMABMR.EDFE 8 words (32).
// In ring mode the next one is DSL words after the end of this one.
#define ETH_DESC_WORDS      (4)
#define ETH_EDESC_WORDS     (8)

// TDES0
#define ETH_TDES0_OWN       (1u << 31)
#define ETH_TDES0_IC        (1u << 30)
#define ETH_TDES0_LS        (1u << 29)
#define ETH_TDES0_FS        (1u << 28)
#define ETH_TDES0_DC        (1u << 27)
#define ETH_TDES0_DP        (1u << 26)
#define ETH_TDES0_TTSE      (1u << 25)
#define ETH_TDES0_CIC_SHIFT (22)
#define ETH_TDES0_CIC_MASK  (3u << 22)
#define ETH_TDES0_CIC_BYPASS (0u)
#define ETH_TDES0_CIC_IPHDR (1u)             // IPv4 header only
#define ETH_TDES0_CIC_PAYLOAD (2u)           // header + payload, pseudo-header from software
#define ETH_TDES0_CIC_FULL  (3u)             // header + payload + pseudo-header in hardware
#define ETH_TDES0_TER       (1u << 21)
#define ETH_TDES0_TCH       (1u << 20)
#define ETH_TDES0_TTSS      (1u << 17)
#define ETH_TDES0_IHE       (1u << 16)
#define ETH_TDES0_ES        (1u << 15)
#define ETH_TDES0_JT        (1u << 14)
#define ETH_TDES0_FF        (1u << 13)
#define ETH_TDES0_IPE       (1u << 12)       // IP payload error (PCE)
#define ETH_TDES0_LCA       (1u << 11)
#define ETH_TDES0_NC        (1u << 10)
#define ETH_TDES0_LCO       (1u << 9)
#define ETH_TDES0_EC        (1u << 8)
#define ETH_TDES0_VF        (1u << 7)
#define ETH_TDES0_CC_SHIFT  (3)
#define ETH_TDES0_ED        (1u << 2)
#define ETH_TDES0_UF        (1u << 1)
#define ETH_TDES0_DB        (1u << 0)
#define ETH_TDES0_ES_SRC    (ETH_TDES0_IHE | ETH_TDES0_JT | ETH_TDES0_FF | ETH_TDES0_IPE | \
    ETH_TDES0_LCA | ETH_TDES0_NC | ETH_TDES0_LCO | ETH_TDES0_EC | ETH_TDES0_ED | ETH_TDES0_UF)
// TDES1
#define ETH_TDES1_TBS1_MASK (0x1FFFu)
#define ETH_TDES1_TBS2_SHIFT (16)
#define ETH_TDES1_TBS2_MASK (0x1FFFu << 16)

// RDES0
#define ETH_RDES0_OWN       (1u << 31)
#define ETH_RDES0_AFM       (1u << 30)
#define ETH_RDES0_FL_SHIFT  (16)
#define ETH_RDES0_FL_MASK   (0x3FFFu << 16)
#define ETH_RDES0_ES        (1u << 15)
#define ETH_RDES0_DE        (1u << 14)
#define ETH_RDES0_SAF       (1u << 13)
#define ETH_RDES0_LE        (1u << 12)
#define ETH_RDES0_OE        (1u << 11)
#define ETH_RDES0_VLAN      (1u << 10)
#define ETH_RDES0_FS        (1u << 9)
#define ETH_RDES0_LS        (1u << 8)
#define ETH_RDES0_IPHCE     (1u << 7)        // IPv4 header checksum error (IPCO) / giant / TSV (EDFE)
#define ETH_RDES0_LCO       (1u << 6)
#define ETH_RDES0_FT        (1u << 5)
#define ETH_RDES0_RWT       (1u << 4)
#define ETH_RDES0_RE        (1u << 3)
#define ETH_RDES0_DBE       (1u << 2)
#define ETH_RDES0_CE        (1u << 1)
#define ETH_RDES0_PCE       (1u << 0)        // payload checksum error; ESA with EDFE
#define ETH_RDES0_ESA       (1u << 0)
#define ETH_RDES0_ES_SRC    (ETH_RDES0_CE | ETH_RDES0_RE | ETH_RDES0_RWT | ETH_RDES0_LCO | \
    ETH_RDES0_OE | ETH_RDES0_DE)
// RDES1
#define ETH_RDES1_DIC       (1u << 31)
#define ETH_RDES1_RBS2_SHIFT (16)
#define ETH_RDES1_RBS2_MASK (0x1FFFu << 16)
#define ETH_RDES1_RER       (1u << 15)
#define ETH_RDES1_RCH       (1u << 14)
#define ETH_RDES1_RBS1_MASK (0x1FFFu)
// RDES4 (enhanced descriptors)
#define ETH_RDES4_IPPT_MASK (7u)
#define ETH_RDES4_IPPT_UDP  (1u)
#define ETH_RDES4_IPPT_TCP  (2u)
#define ETH_RDES4_IPPT_ICMP (3u)
#define ETH_RDES4_IPHE      (1u << 3)
#define ETH_RDES4_IPPE      (1u << 4)
#define ETH_RDES4_IPCB      (1u << 5)
#define ETH_RDES4_IPV4PR    (1u << 6)
#define ETH_RDES4_IPV6PR    (1u << 7)

// ---- LAN8742A PHY (NUCLEO-F767ZI, address 0) ------------------------------------------
#define PHY_BMCR            (0)
#define PHY_BMSR            (1)
#define PHY_ID1             (2)
#define PHY_ID2             (3)
#define PHY_ANAR            (4)
#define PHY_ANLPAR          (5)
#define PHY_ANER            (6)
#define PHY_SMR             (18)             // special modes
#define PHY_ISFR            (29)             // interrupt source flags
#define PHY_IMR             (30)
#define PHY_PHYSCSR         (31)
#define PHY_BMCR_RESET      (1u << 15)
#define PHY_BMCR_LOOPBACK   (1u << 14)
#define PHY_BMCR_SPEED100   (1u << 13)
#define PHY_BMCR_ANEN       (1u << 12)
#define PHY_BMCR_PDOWN      (1u << 11)
#define PHY_BMCR_ANRESTART  (1u << 9)
#define PHY_BMCR_FULLDPLX   (1u << 8)
#define PHY_BMSR_LINK       (1u << 2)        // latched low
#define PHY_BMSR_ANABLE     (1u << 3)
#define PHY_BMSR_ANDONE     (1u << 5)
#define PHY_PHYSCSR_AUTODONE (1u << 12)
#define PHY_PHYSCSR_SPEED_SHIFT (2)
#define PHY_PHYSCSR_SPEED_MASK (7u << 2)     // 001 10H, 101 10F, 010 100H, 110 100F
#define PHY_LAN8742A_ID     (0x0007C130u)    // ID1 << 16 | ID2, revision in bits 3:0
#define PHY_LAN8742A_ID_MASK (0xFFFFFFF0u)

#endif
