// QSM NEC infrared receiver. APB4 slave (byte strobes), 4 KiB window.
//
// The input (a demodulating IR receiver's output, active low by default) is synchronized and
// its mark/space widths are measured in ticks of CLKDIV+1 clock cycles. The decoder expects the
// NEC unit T = 16 ticks (so CLKDIV = 35 at 1 MHz: 36 us per tick, T = 576 us ~ 562.5 us):
//   frame:  lead mark 16T, lead space 8T, 32 bits LSB first (address, ~address, command,
//           ~command), each bit a 1T mark and a 1T (0) or 3T (1) space, then a 1T stop mark;
//   repeat: lead mark 16T, space 4T, stop mark.
// A width is accepted when it lies within nominal +/- (nominal >> TOLSHIFT).
//
// Register map (offsets; targets/svd/qsm_periph.svd is the reference):
//   0x00 CTRL    [0] EN [1] POL (1: input active high) [2] EXT (16-bit address, not checked)
//   0x04 CLKDIV  [15:0] clock cycles per tick, minus one
//   0x08 TOL     [2:0] TOLSHIFT
//   0x0C STATUS  [0] FRAME [1] REPEAT [2] ERROR [3] OVERRUN (write 1 to clear)
//                [8] BUSY (receiving) [9] LEVEL (mark on the input now)  read only
//   0x10 IE      [3:0] interrupt enables for STATUS[3:0]
//   0x14 DATA    raw 32 bits of the last frame, first received bit in bit 0
//   0x18 CODE    [15:0] address (8 bits unless EXT) [23:16] command
//   0x1C ERRINFO [2:0] cause (1 lead mark, 2 lead space, 3 bit mark, 4 bit space,
//                5 check: inverted copy mismatch) [13:8] bits received before the error
//   0x20 MEAS    [11:0] width of the last finished mark or space in ticks [16] it was a mark
//   0x24 ID      0x514E4501
`default_nettype none

module qsm_nec (
    input  wire        clk,
    input  wire        rst_n,
    // APB4
    input  wire        psel,
    input  wire        penable,
    input  wire        pwrite,
    input  wire [11:0] paddr,
    input  wire [31:0] pwdata,
    input  wire [3:0]  pstrb,
    output reg  [31:0] prdata,   // registered in the setup phase
    output wire        pready,
    output reg         pslverr,
    // pins
    input  wire        ir_in,
    output wire        irq
);
    localparam [31:0] ID_VALUE = 32'h514E4501;
    localparam [11:0] N_LEAD_MARK = 12'd256, N_LEAD_SPACE = 12'd128, N_REPEAT_SPACE = 12'd64,
                      N_UNIT = 12'd16, N_ONE_SPACE = 12'd48;
    localparam [2:0] S_IDLE = 3'd0, S_LEAD_MARK = 3'd1, S_LEAD_SPACE = 3'd2, S_BIT_MARK = 3'd3,
                     S_BIT_SPACE = 3'd4, S_STOP = 3'd5, S_RECOVER = 3'd6;
    localparam [2:0] E_LEAD_MARK = 3'd1, E_LEAD_SPACE = 3'd2, E_BIT_MARK = 3'd3,
                     E_BIT_SPACE = 3'd4, E_CHECK = 3'd5;
    localparam [11:0] RECOVER_IDLE = 12'd160;  // a space this long ends a broken frame

    reg        en, pol, ext;
    reg [15:0] clkdiv;
    reg [2:0]  tolshift;
    reg [3:0]  status, ie;
    reg [31:0] data, shift;
    reg [15:0] code_addr;
    reg [7:0]  code_cmd;
    reg [2:0]  err_cause;
    reg [5:0]  err_bits;
    reg [11:0] meas;
    reg        meas_mark;

    reg [2:0]  state;
    reg [5:0]  nbits;
    reg [15:0] div;
    reg [11:0] width;
    reg [1:0]  sync;
    reg        mark_d;

    assign pready = 1'b1;
    wire access = psel & penable;
    wire wr = access & pwrite;

    function [31:0] merge(input [31:0] cur, input [31:0] wdat, input [3:0] strb);
        merge = {strb[3] ? wdat[31:24] : cur[31:24], strb[2] ? wdat[23:16] : cur[23:16],
                 strb[1] ? wdat[15:8] : cur[15:8], strb[0] ? wdat[7:0] : cur[7:0]};
    endfunction

    function near(input [11:0] w, input [11:0] nominal, input [2:0] shift_by);
        reg [11:0] tol;
        begin
            tol = nominal >> shift_by;
            near = (w >= nominal - tol) && (w <= nominal + tol);
        end
    endfunction

    function [11:0] upper(input [11:0] nominal, input [2:0] shift_by);
        upper = nominal + (nominal >> shift_by);
    endfunction

    wire [31:0] w_ctrl   = merge({29'b0, ext, pol, en}, pwdata, pstrb);
    wire [31:0] w_clkdiv = merge({16'b0, clkdiv}, pwdata, pstrb);
    wire [31:0] w_tol    = merge({29'b0, tolshift}, pwdata, pstrb);
    wire [31:0] w_ie     = merge({28'b0, ie}, pwdata, pstrb);
    wire [3:0]  clr = (wr && paddr[11:2] == 10'h003 && pstrb[0]) ? pwdata[3:0] : 4'b0;

    always @(posedge clk or negedge rst_n) begin
        if (!rst_n) begin
            en <= 1'b0; pol <= 1'b0; ext <= 1'b0; clkdiv <= 16'd35; tolshift <= 3'd2; ie <= 4'b0;
        end else if (wr) begin
            case (paddr[11:2])
                10'h000: {ext, pol, en} <= w_ctrl[2:0];
                10'h001: clkdiv <= w_clkdiv[15:0];
                10'h002: tolshift <= w_tol[2:0];
                10'h004: ie <= w_ie[3:0];
                default: ;
            endcase
        end
    end

    // Input: synchronizer, polarity, edges, tick
    always @(posedge clk or negedge rst_n) begin
        if (!rst_n) sync <= 2'b11;
        else sync <= {sync[0], ir_in};
    end
    wire mark = sync[1] ^ ~pol;
    wire mark_start = mark & ~mark_d;
    wire mark_end = ~mark & mark_d;
    wire tick = (div == clkdiv);

    // Decoder
    reg [3:0]  set;         // STATUS bits raised this cycle
    reg [2:0]  next_state;
    reg [2:0]  cause;
    reg [31:0] bits_next;
    always @* begin
        set = 4'b0; next_state = state; cause = 3'd0; bits_next = shift;
        case (state)
            S_IDLE: if (mark_start) next_state = S_LEAD_MARK;
            S_LEAD_MARK:
                if (mark_end) begin
                    if (near(width, N_LEAD_MARK, tolshift)) next_state = S_LEAD_SPACE;
                    else cause = E_LEAD_MARK;
                end else if (width > upper(N_LEAD_MARK, tolshift)) cause = E_LEAD_MARK;
            S_LEAD_SPACE:
                if (mark_start) begin
                    if (near(width, N_LEAD_SPACE, tolshift)) next_state = S_BIT_MARK;
                    else if (near(width, N_REPEAT_SPACE, tolshift)) begin
                        set[1] = 1'b1; next_state = S_STOP;
                    end else cause = E_LEAD_SPACE;
                end else if (width > upper(N_LEAD_SPACE, tolshift)) cause = E_LEAD_SPACE;
            S_BIT_MARK:
                if (mark_end) begin
                    if (near(width, N_UNIT, tolshift)) next_state = S_BIT_SPACE;
                    else cause = E_BIT_MARK;
                end else if (width > upper(N_UNIT, tolshift)) cause = E_BIT_MARK;
            S_BIT_SPACE:
                if (mark_start) begin
                    if (near(width, N_UNIT, tolshift)) bits_next = {1'b0, shift[31:1]};
                    else if (near(width, N_ONE_SPACE, tolshift)) bits_next = {1'b1, shift[31:1]};
                    else cause = E_BIT_SPACE;
                    if (cause == 3'd0) begin
                        if (nbits == 6'd31) begin
                            next_state = S_STOP;
                            if (bits_next[31:24] != ~bits_next[23:16]
                                || (!ext && bits_next[15:8] != ~bits_next[7:0]))
                                cause = E_CHECK;
                            else set[0] = 1'b1;
                        end else next_state = S_BIT_MARK;
                    end
                end else if (width > upper(N_ONE_SPACE, tolshift)) cause = E_BIT_SPACE;
            S_STOP: if (mark_end || width > upper(N_UNIT, tolshift)) next_state = S_IDLE;
            S_RECOVER: if (!mark && width >= RECOVER_IDLE) next_state = S_IDLE;
            default: next_state = S_IDLE;
        endcase
        if (cause != 3'd0) begin
            set[2] = 1'b1;
            next_state = (cause == E_CHECK) ? S_STOP : S_RECOVER;
        end
        if (set[0] && status[0] && !clr[0]) set[3] = 1'b1;
    end

    always @(posedge clk or negedge rst_n) begin
        if (!rst_n) begin
            state <= S_IDLE; nbits <= 6'd0; div <= 16'd0; width <= 12'd0; mark_d <= 1'b0;
            shift <= 32'd0; data <= 32'd0; code_addr <= 16'd0; code_cmd <= 8'd0;
            err_cause <= 3'd0; err_bits <= 6'd0; meas <= 12'd0; meas_mark <= 1'b0;
            status <= 4'b0;
        end else if (!en) begin
            state <= S_IDLE; nbits <= 6'd0; div <= 16'd0; width <= 12'd0; mark_d <= mark;
            status <= status & ~clr;
        end else begin
            mark_d <= mark;
            div <= tick ? 16'd0 : div + 16'd1;
            if (mark_start || mark_end) begin
                width <= 12'd0;
                meas <= width; meas_mark <= mark_d;
            end else if (cause != 3'd0) width <= 12'd0;  // recovery counts from the error
            else if (tick && width != 12'hFFF) width <= width + 12'd1;
            state <= next_state;
            if (mark_start && state == S_BIT_SPACE) shift <= bits_next;
            if (state == S_IDLE || (state == S_LEAD_SPACE && next_state == S_BIT_MARK))
                nbits <= 6'd0;
            else if (state == S_BIT_SPACE && mark_start && cause == 3'd0) nbits <= nbits + 6'd1;
            if (state == S_BIT_SPACE && next_state == S_STOP) begin
                data <= bits_next;
                code_cmd <= bits_next[23:16];
                code_addr <= ext ? bits_next[15:0] : {8'b0, bits_next[7:0]};
            end
            if (cause != 3'd0) begin
                err_cause <= cause;
                err_bits <= (cause == E_CHECK) ? 6'd32 : nbits;
            end
            status <= (status & ~clr) | set;
        end
    end

    assign irq = |(status & ie);

    reg [31:0] rdata;
    reg        rerr;
    always @(posedge clk or negedge rst_n) begin
        if (!rst_n) begin
            prdata <= 32'h0; pslverr <= 1'b0;
        end else if (psel && !penable) begin
            prdata <= rdata; pslverr <= rerr;
        end
    end

    always @* begin
        rerr = 1'b0;
        case (paddr[11:2])
            10'h000: rdata = {29'b0, ext, pol, en};
            10'h001: rdata = {16'b0, clkdiv};
            10'h002: rdata = {29'b0, tolshift};
            10'h003: rdata = {22'b0, mark, (state != S_IDLE), 4'b0, status};
            10'h004: rdata = {28'b0, ie};
            10'h005: rdata = data;
            10'h006: rdata = {8'b0, code_cmd, code_addr};
            10'h007: rdata = {18'b0, err_bits, 5'b0, err_cause};
            10'h008: rdata = {15'b0, meas_mark, 4'b0, meas};
            10'h009: rdata = ID_VALUE;
            default: begin rdata = 32'h0; rerr = 1'b1; end
        endcase
    end
endmodule

`default_nettype wire
