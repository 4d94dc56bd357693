/* layout.c: prints the size and offset of every field of libspf2's public
 * structures and the values of its enums. run.sh compiles it once against
 * Debian's libspf2-dev headers and once against spf-compat/include, and the
 * two outputs must be identical: the ABI callers see. */
#include <stdio.h>
#include <stddef.h>
#include <netinet/in.h>
#include <spf2/spf.h>
#include <spf2/spf_dns_rr.h>
#include <spf2/spf_record.h>
#define S(t) printf("sizeof %s %zu\n", #t, sizeof(t))
#define O(t,f) printf("offsetof %s.%s %zu\n", #t, #f, offsetof(t,f))
int main(void)
{
S(SPF_server_t); O(SPF_server_t,resolver);O(SPF_server_t,local_policy);O(SPF_server_t,explanation);O(SPF_server_t,rec_dom);O(SPF_server_t,max_dns_mech);O(SPF_server_t,max_dns_ptr);O(SPF_server_t,max_dns_mx);O(SPF_server_t,sanitize);O(SPF_server_t,debug);O(SPF_server_t,destroy_resolver);
S(SPF_request_t);O(SPF_request_t,spf_server);O(SPF_request_t,client_ver);O(SPF_request_t,ipv4);O(SPF_request_t,ipv6);O(SPF_request_t,env_from);O(SPF_request_t,helo_dom);O(SPF_request_t,rcpt_to_dom);O(SPF_request_t,use_local_policy);O(SPF_request_t,use_helo);O(SPF_request_t,env_from_lp);O(SPF_request_t,env_from_dp);O(SPF_request_t,client_dom);O(SPF_request_t,cur_dom);
S(SPF_response_t);O(SPF_response_t,spf_request);O(SPF_response_t,spf_record_exp);O(SPF_response_t,result);O(SPF_response_t,reason);O(SPF_response_t,err);O(SPF_response_t,received_spf);O(SPF_response_t,received_spf_value);O(SPF_response_t,header_comment);O(SPF_response_t,smtp_comment);O(SPF_response_t,explanation);O(SPF_response_t,errors);O(SPF_response_t,errors_size);O(SPF_response_t,errors_length);O(SPF_response_t,num_errors);O(SPF_response_t,num_dns_mech);
S(SPF_error_t);O(SPF_error_t,code);O(SPF_error_t,message);O(SPF_error_t,is_error);
S(SPF_dns_server_t);O(SPF_dns_server_t,destroy);O(SPF_dns_server_t,lookup);O(SPF_dns_server_t,get_spf);O(SPF_dns_server_t,get_exp);O(SPF_dns_server_t,add_cache);O(SPF_dns_server_t,layer_below);O(SPF_dns_server_t,name);O(SPF_dns_server_t,debug);O(SPF_dns_server_t,hook);
S(SPF_dns_rr_t);O(SPF_dns_rr_t,domain);O(SPF_dns_rr_t,domain_buf_len);O(SPF_dns_rr_t,rr_type);O(SPF_dns_rr_t,num_rr);O(SPF_dns_rr_t,rr);O(SPF_dns_rr_t,rr_buf_len);O(SPF_dns_rr_t,rr_buf_num);O(SPF_dns_rr_t,ttl);O(SPF_dns_rr_t,utc_ttl);O(SPF_dns_rr_t,herrno);O(SPF_dns_rr_t,hook);O(SPF_dns_rr_t,source);
S(SPF_dns_rr_data_t);
S(SPF_record_t);O(SPF_record_t,spf_server);O(SPF_record_t,version);O(SPF_record_t,num_mech);O(SPF_record_t,num_mod);O(SPF_record_t,num_dns_mech);O(SPF_record_t,mech_first);O(SPF_record_t,mech_size);O(SPF_record_t,mech_len);O(SPF_record_t,mod_first);O(SPF_record_t,mod_size);O(SPF_record_t,mod_len);
S(SPF_macro_t);S(SPF_data_t);S(SPF_mech_t);S(SPF_mod_t);
printf("enum SPF_DNS_RESOLV %d SPF_DNS_CACHE %d SPF_DNS_ZONE %d\n", SPF_DNS_RESOLV, SPF_DNS_CACHE, SPF_DNS_ZONE);
printf("ns_t_spf %d ns_t_any %d HOST_NOT_FOUND %d TRY_AGAIN %d NO_RECOVERY %d NO_DATA %d NETDB_SUCCESS %d\n", ns_t_spf, ns_t_any, HOST_NOT_FOUND, TRY_AGAIN, NO_RECOVERY, NO_DATA, NETDB_SUCCESS);
printf("SPF_E_MULTIPLE_RECORDS %d SPF_RESULT_PERMERROR %d SPF_REASON_2MX %d\n", SPF_E_MULTIPLE_RECORDS, SPF_RESULT_PERMERROR, SPF_REASON_2MX);
return 0;
}
